// The DNS filter with UDP read and answered in batches by the native module (dns.udpTransport
// batched, what `auto` picks on Linux): the whole suite of dns-suite.ts.
import { dnsFilterSuite } from './dns-suite.ts';

dnsFilterSuite('batched');
