// The DNS filter with UDP read and answered by node:dgram (dns.udpTransport dgram, the fallback
// where the native module is not built): the whole suite of dns-suite.ts.
import { dnsFilterSuite } from './dns-suite.ts';

dnsFilterSuite('dgram');
