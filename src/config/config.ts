// Custos configuration: one zod-validated object, read from an optional YAML file and then from
// environment variables (CUSTOS_SECTION__KEY=value, plus DATABASE_URL). Every setting carries a
// description; `custos config` prints the effective values with secrets redacted and
// docs/configuration.md is generated from the same schema.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
/** true/false from YAML, or "true"/"false"/"1"/"0" from the environment. */
const flag = z.union([
  z.boolean(),
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((v) => ['true', '1', 'yes'].includes(v)),
]);

const oidcProvider = z
  .object({
    clientId: z
      .string()
      .min(1)
      .describe('The application (client) id registered with the provider.'),
    clientSecret: z.string().min(1).describe('The client secret registered with the provider.'),
    issuer: z
      .string()
      .url()
      .optional()
      .describe(
        'Issuer URL. Microsoft: https://login.microsoftonline.com/TENANT_ID/v2.0; Google: https://accounts.google.com. Only needed to override the default.',
      ),
    allowedDomains: z
      .array(z.string())
      .default([])
      .describe(
        'E-mail domains whose people may sign in this way (for example ["palfreyinfant.co.uk"]). Empty allows any domain of people already in the directory.',
      ),
  })
  .describe('An OpenID Connect provider.');

/** Where the mail gateway hands a message on (mail.inbound, mail.outbound). */
const nextHopFields = {
  host: z.string().default('127.0.0.1').describe('Host name or address of the next hop.'),
  port: port.default(25).describe('Its SMTP port.'),
  secure: flag
    .default(false)
    .describe('TLS from the first byte (port 465). Otherwise STARTTLS is used when offered.'),
  requireTls: flag.default(false).describe('Refuse to hand mail over without TLS.'),
  verifyCertificate: flag
    .default(true)
    .describe('Check the TLS certificate of the next hop (turn off only on a private link).'),
  username: z.string().optional().describe('SMTP AUTH user name at the next hop, if it needs one.'),
  password: z.string().optional().describe('SMTP AUTH password at the next hop.'),
};

/** Outbound mail can also go straight to each recipient domain's mail servers (MX records). */
const outboundHop = z
  .object({
    delivery: z
      .enum(['smarthost', 'mx'])
      .default('smarthost')
      .describe(
        'How outbound mail leaves. "smarthost": to the next hop in host and port (Postfix: relayhost = [host]:port). "mx": straight to the mail servers of each recipient domain, found by their MX records (Postfix with relayhost empty); host, port, secure, verifyCertificate, username and password are then not used, requireTls still is.',
      ),
    ...nextHopFields,
    mx: z
      .object({
        port: port
          .default(25)
          .describe(
            'Port the mail servers of recipient domains are reached on. Always 25 on the internet; another port only for testing.',
          ),
        dnsServers: z
          .array(z.string())
          .default([])
          .describe(
            'DNS servers for the MX, A and AAAA look-ups, as addresses or address:port (e.g. ["192.168.1.1"] or ["[::1]:5353"]). Empty: the resolvers of this machine (/etc/resolv.conf). Not Custos\'s own DNS filter: mail must not depend on what it blocks.',
          ),
        dnsTimeoutMs: z.coerce
          .number()
          .int()
          .positive()
          .default(5000)
          .describe(
            'How long one DNS query may take. Each is asked twice; a domain whose look-up still fails is deferred (4xx) and the sender retries.',
          ),
      })
      .prefault({})
      .describe('Delivery by MX records (delivery: mx).'),
  })
  .prefault({})
  .describe(
    'Where outbound mail goes after the checks: a smart host that delivers to the internet (from your provider, or the relay of the mail service), or with delivery: mx, the mail servers of each recipient domain.',
  );

export const ConfigSchema = z.object({
  dataDir: z
    .string()
    .default('./data')
    .describe('Folder for the SQLite database, keys and other local state.'),
  server: z
    .object({
      host: z.string().default('0.0.0.0').describe('Address the console and API listen on.'),
      port: port.default(8080).describe('Port of the console and API.'),
      publicUrl: z
        .string()
        .url()
        .default('http://localhost:8080')
        .describe(
          'The address people use to reach the console; used in links sent by e-mail and printed in the terminal, and as the OpenID Connect redirect base.',
        ),
      bodyLimitBytes: z.coerce
        .number()
        .int()
        .positive()
        .default(10 * 1024 * 1024)
        .describe('Largest request body the API accepts (CSV imports included).'),
      trustProxy: flag
        .default(false)
        .describe(
          'Trust X-Forwarded-For from a reverse proxy in front of the console. Leave off unless there is one.',
        ),
      shutdownGraceMs: z.coerce
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('How long SIGTERM waits for requests in flight before closing.'),
    })
    .prefault({})
    .describe('The console and API.'),
  database: z
    .object({
      url: z
        .string()
        .optional()
        .describe(
          'PostgreSQL connection string (postgres://user:pass@host:5432/db). When unset, SQLite is used. Also read from DATABASE_URL.',
        ),
      sqlitePath: z
        .string()
        .optional()
        .describe('SQLite database file. Defaults to custos.db inside dataDir.'),
    })
    .prefault({})
    .describe('Where Custos keeps its records.'),
  policy: z
    .object({
      pack: z
        .string()
        .default('./policy-packs/palfrey-infant')
        .describe(
          'Folder of the policy pack in force (policy.yaml inside), used until a pack is applied in the console (Settings); the pack applied most recently takes precedence.',
        ),
      watchIntervalMs: z.coerce
        .number()
        .int()
        .min(200)
        .default(3000)
        .describe(
          'How often each process checks whether another one applied a new policy pack, and reloads it.',
        ),
    })
    .prefault({})
    .describe('The policy pack.'),
  auth: z
    .object({
      cookieSecure: z
        .enum(['auto', 'always', 'never'])
        .default('auto')
        .describe(
          'Mark the session cookie Secure: "auto" does so when publicUrl is https, "always" or "never" force it.',
        ),
      sessionMaxHours: z.coerce
        .number()
        .positive()
        .default(12)
        .describe('A session ends this many hours after sign-in, whatever the activity.'),
      maxFailedSignIns: z.coerce
        .number()
        .int()
        .positive()
        .default(5)
        .describe('Failed sign-ins in a row before the account is locked for lockoutMinutes.'),
      lockoutMinutes: z.coerce
        .number()
        .positive()
        .default(15)
        .describe('How long an account stays locked after too many failed sign-ins.'),
      signInRatePerMinute: z.coerce
        .number()
        .int()
        .positive()
        .default(20)
        .describe('Sign-in attempts one client address may make per minute.'),
      argon2: z
        .object({
          memoryKiB: z.coerce
            .number()
            .int()
            .min(8192)
            .default(19456)
            .describe('Argon2id memory cost in KiB (OWASP minimum 19 MiB).'),
          timeCost: z.coerce.number().int().min(1).default(2).describe('Argon2id iterations.'),
          parallelism: z.coerce.number().int().min(1).default(1).describe('Argon2id lanes.'),
        })
        .prefault({})
        .describe('Password hashing cost; see bench/sign-in.ts for its price per attempt.'),
      oidc: z
        .object({
          microsoft: oidcProvider.optional().describe('Sign in with Microsoft (Entra ID).'),
          google: oidcProvider.optional().describe('Sign in with Google (Workspace).'),
        })
        .prefault({})
        .describe('Single sign-on providers; each appears on the sign-in page once configured.'),
    })
    .prefault({})
    .describe('Accounts, sessions and sign-in.'),
  notifications: z
    .object({
      enabled: flag
        .default(false)
        .describe(
          'Send e-mail notifications (policy acceptance and review reminders, web filter alerts, decisions on site review requests). When off, messages wait in the outbox and go once this is turned on.',
        ),
      from: z
        .string()
        .default('Custos <custos@localhost>')
        .describe(
          'The sender of notification e-mails, e.g. "Custos <custos@palfreyinfant.co.uk>".',
        ),
      smtp: z
        .object({
          host: z
            .string()
            .default('localhost')
            .describe('The mail relay notifications go through.'),
          port: port
            .default(25)
            .describe('Port of the mail relay (25, 587 with STARTTLS, 465 with TLS).'),
          secure: flag
            .default(false)
            .describe(
              'Connect with TLS from the start (port 465). When off, STARTTLS is used if the relay offers it.',
            ),
          user: z.string().optional().describe('User name for the relay, when it asks for one.'),
          password: z.string().optional().describe('Password for the relay, when it asks for one.'),
        })
        .prefault({})
        .describe('The SMTP relay.'),
      checkIntervalMinutes: z.coerce
        .number()
        .positive()
        .default(60)
        .describe(
          'How often `custos serve` looks for reminders that are due (and queues them in the outbox).',
        ),
      deliverIntervalSeconds: z.coerce
        .number()
        .positive()
        .default(30)
        .describe(
          'How often `custos serve` sends what waits in the outbox: web filter alerts (MIS-2(j)) arrive within this time.',
        ),
      acceptanceReminderDays: z.coerce
        .number()
        .int()
        .min(1)
        .default(7)
        .describe(
          'GOV-5: remind a person who has not accepted the current policy this many days after they were asked, and again every as many days.',
        ),
      reviewReminderDays: z.coerce
        .number()
        .int()
        .min(1)
        .default(30)
        .describe(
          'GOV-1: remind the policy owner this many days before the review falls due (and weekly once it is overdue).',
        ),
      retryMaxMinutes: z.coerce
        .number()
        .positive()
        .default(360)
        .describe(
          'Longest wait between attempts to deliver a message the relay refused or could not take; waits double from one minute up to this. Messages are never dropped.',
        ),
    })
    .prefault({})
    .describe('E-mail notifications.'),
  webfilter: z
    .object({
      lists: z
        .string()
        .default('./lists/ut1')
        .describe(
          'The category lists the web filter uses: a squidGuard/UT1 folder (CATEGORY/domains, CATEGORY/urls) or the upstream .tar.gz of the same layout. Loaded once at start, with progress logged.',
        ),
      listsUrl: z
        .string()
        .url()
        .default('https://dsi.ut-capitole.fr/blacklists/download/blacklists.tar.gz')
        .describe(
          'Where `custos lists update` (and the console\'s "update the lists") downloads the UT1 tarball from. The lists it installs go to lists/ut1.tar.gz inside dataDir and take precedence over webfilter.lists.',
        ),
      listsMaxShrink: z.coerce
        .number()
        .min(0)
        .max(1)
        .default(0.5)
        .describe(
          'An update is refused when a category the policy names would lose more than this fraction of its entries compared with the lists in force (a truncated download must not unblock the web). 1 turns the check off.',
        ),
      listsWatchIntervalMs: z.coerce
        .number()
        .int()
        .min(100)
        .default(10_000)
        .describe(
          'How often a running gateway checks whether new lists were installed (by another process or machine), in milliseconds.',
        ),
      activityWindowSeconds: z.coerce
        .number()
        .int()
        .min(1)
        .max(3600)
        .default(60)
        .describe(
          'Identical decisions (same person, device, address, site, path, decision and reasons) within one window of this many seconds, aligned to the clock (60: 10:04:00 to 10:05:00), are one activity record with a count of hits. Each window is written when it closes: a crash loses at most the window still open.',
        ),
      activityMaxWaitingRows: z.coerce
        .number()
        .int()
        .min(100)
        .default(100_000)
        .describe(
          'Activity records (and visits) waiting in memory to be written, at most. Beyond, the oldest waiting records are dropped, counted and reported in the log; filtering never waits on the database.',
        ),
      visitIdleMinutes: z.coerce
        .number()
        .positive()
        .default(5)
        .describe(
          "A visit (one person's, or device's, requests to one site, reported for duration and frequency) ends after this many minutes without a request to that site.",
        ),
      alertRepeatMinutes: z.coerce
        .number()
        .min(0)
        .default(10)
        .describe(
          'An attempt on an alert category (MIS-2(j), pornography) through the proxy or the DNS filter by the same person (or device) for the same site alerts, and e-mails the designated staff, again only after this many minutes. 0 alerts on every attempt.',
        ),
    })
    .prefault({})
    .describe(
      'The web filter: category lists shared by the proxy, the DNS filter and "test a URL".',
    ),
  proxy: z
    .object({
      host: z.string().default('0.0.0.0').describe('Address the filtering web proxy listens on.'),
      port: port.default(3128).describe('Port of the filtering web proxy.'),
      publicHost: z
        .string()
        .optional()
        .describe(
          'The name or address browsers use to reach the proxy, written into proxy.pac and wpad.dat ("PROXY publicHost:port"). Defaults to the host name of server.publicUrl.',
        ),
      requireAuth: z
        .enum(['never', 'unregistered-devices', 'always'])
        .default('never')
        .describe(
          'When the proxy asks for a Custos e-mail address and password (Proxy-Authorization: Basic). "never": people are known by their registered device only, and devices not in the register get the unregistered-device policy (SYS-6). "unregistered-devices": a device not in the register must sign in, and then gets the person\'s policy. "always": everyone signs in.',
        ),
      authRealm: z
        .string()
        .default('Custos')
        .describe('The realm the browser shows when it asks for the proxy password.'),
      authCacheSeconds: z.coerce
        .number()
        .int()
        .min(0)
        .default(300)
        .describe(
          'How long a verified proxy password is remembered (by a hash of the credentials), so that the slow password check runs once, not on every request. A wrong password is remembered for a tenth of this, and counts once towards the account lockout.',
        ),
      fastPath: flag
        .default(true)
        .describe(
          'Read ordinary plain-HTTP requests straight from the socket and forward them over pooled connections; anything unusual still goes through the strict node:http parser. Turn off only to compare.',
        ),
      maxConnections: z.coerce
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe(
          'Client connections held open at once; beyond this a new connection is answered 503 and closed.',
        ),
      maxHeaderBytes: z.coerce
        .number()
        .int()
        .min(1024)
        .default(16 * 1024)
        .describe('Largest request head (request line and headers) accepted; larger gets 431.'),
      maxUrlLength: z.coerce
        .number()
        .int()
        .min(256)
        .default(8192)
        .describe('Longest request URL accepted; longer gets 414.'),
      headersTimeoutMs: z.coerce
        .number()
        .int()
        .positive()
        .default(15_000)
        .describe('Time a client has to send the whole request head; then 408 and close.'),
      requestTimeoutMs: z.coerce
        .number()
        .int()
        .positive()
        .default(300_000)
        .describe('Time a client has to send a whole request, body included (uploads).'),
      idleTimeoutMs: z.coerce
        .number()
        .int()
        .positive()
        .default(60_000)
        .describe('A kept-alive client connection with no request for this long is closed.'),
      upstreamConnectTimeoutMs: z.coerce
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('Time to connect to a web site; then 504 (or 504 to CONNECT).'),
      upstreamResponseTimeoutMs: z.coerce
        .number()
        .int()
        .positive()
        .default(60_000)
        .describe(
          'Time a web site may stay silent, before its answer or in the middle of it; then 504, or the answer is cut.',
        ),
      tunnelIdleTimeoutMs: z.coerce
        .number()
        .int()
        .positive()
        .default(300_000)
        .describe('An HTTPS (CONNECT) tunnel with no traffic either way for this long is closed.'),
      allowedTargets: z
        .array(z.string())
        .default([])
        .describe(
          'Addresses or CIDR ranges the proxy may reach although they are private, loopback or link-local (for example ["10.0.5.20", "192.168.10.0/24"] for an intranet server). Everything else in those ranges is refused, checked on the resolved address. The proxy\'s own ports on this machine are always refused.',
        ),
    })
    .prefault({})
    .describe('The filtering web proxy (HTTP, and HTTPS by CONNECT without interception).'),
  dns: z
    .object({
      host: z
        .string()
        .default('0.0.0.0')
        .describe('Address the DNS filter listens on (UDP and TCP); "::" for IPv6 as well.'),
      port: port
        .default(5353)
        .describe(
          'Port of the DNS filter. Clients expect 53: give Custos the right to bind it (CAP_NET_BIND_SERVICE, see docs/dns-filter.md) and set 53 here.',
        ),
      upstreams: z
        .array(z.string())
        .default([])
        .describe(
          'The resolvers allowed queries are forwarded to, as "ip" or "ip:port" ("[ipv6]:port"), tried in turn when one does not answer. Empty: the nameservers of /etc/resolv.conf, leaving out loopback addresses when the filter itself listens on port 53.',
        ),
      attemptTimeoutMs: z.coerce
        .number()
        .int()
        .positive()
        .default(800)
        .describe('How long one upstream has to answer before the query goes to the next one.'),
      attempts: z.coerce
        .number()
        .int()
        .min(1)
        .default(3)
        .describe('Attempts per query, spread over the upstreams in turn.'),
      queryTimeoutMs: z.coerce
        .number()
        .int()
        .positive()
        .default(2500)
        .describe(
          'The whole time a query may wait on the upstreams (TCP fallback included) before the client gets SERVFAIL with an Extended DNS Error.',
        ),
      cacheEntries: z.coerce
        .number()
        .int()
        .min(0)
        .default(100_000)
        .describe(
          'Answers kept in the cache (the least recently used goes first); 0 turns the cache off.',
        ),
      decisionCacheEntries: z.coerce
        .number()
        .int()
        .min(0)
        .default(200_000)
        .describe(
          "Decisions kept per client and question, so that a repeated lookup is not decided again. All are dropped whenever the policy, the lists or the registers change, and one that depends on a person's personal-use hours holds to the end of the minute. 0 decides every query.",
        ),
      cacheMinTtlSeconds: z.coerce
        .number()
        .int()
        .min(0)
        .default(0)
        .describe('Shortest time an answer is kept, whatever its TTL says.'),
      cacheMaxTtlSeconds: z.coerce
        .number()
        .int()
        .positive()
        .default(86_400)
        .describe('Longest time an answer is kept, whatever its TTL says.'),
      negativeMaxTtlSeconds: z.coerce
        .number()
        .int()
        .min(0)
        .default(3600)
        .describe(
          'Longest time a "no such name" or "no such record" answer is kept (its own time is the SOA minimum, RFC 2308).',
        ),
      blockTtlSeconds: z.coerce
        .number()
        .int()
        .min(0)
        .default(10)
        .describe(
          'TTL of the answers to blocked names, kept short so that lifting a block takes effect quickly.',
        ),
      blockAddressV6: z
        .string()
        .optional()
        .describe(
          'IPv6 address of the block page, given to AAAA queries for blocked names when the pack answers with the block page. Unset: AAAA queries get an empty answer and the browser uses the IPv4 block page.',
        ),
      ednsBufferSize: z.coerce
        .number()
        .int()
        .min(512)
        .max(4096)
        .default(1232)
        .describe(
          'Largest UDP answer sent and the size advertised in EDNS (1232 avoids IP fragmentation); a larger answer goes out truncated (TC) and the client asks again over TCP.',
        ),
      tcpMaxConnections: z.coerce
        .number()
        .int()
        .positive()
        .default(1000)
        .describe('TCP connections held open at once; more are refused.'),
      tcpIdleTimeoutMs: z.coerce
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('A TCP connection with nothing to read or answer for this long is closed.'),
      tcpMaxQueriesInFlight: z.coerce
        .number()
        .int()
        .positive()
        .default(100)
        .describe(
          'Queries one TCP connection may have waiting for an answer at once (RFC 7766 pipelining); reading pauses beyond this.',
        ),
      activityMergeSeconds: z.coerce
        .number()
        .min(0)
        .default(5)
        .describe(
          'Lookups of the same name by the same client with the same decision within this many seconds make one activity record (a browser asks A, AAAA and HTTPS for every visit, and repeats them). 0 records every query.',
        ),
      udpTransport: z
        .enum(['auto', 'batched', 'dgram'])
        .default('auto')
        .describe(
          "How UDP queries are read and answered: batched (Custos's native module, many datagrams a system call with recvmmsg and sendmmsg; Linux, built by npm ci), dgram (Node.js's own UDP, a call per datagram: about half the queries a second), or auto: batched where the native module loads, else dgram with a line in the log that says why.",
        ),
    })
    .prefault({})
    .describe('The DNS filter (UDP and TCP).'),
  mail: z
    .object({
      clamd: z
        .object({
          socket: z
            .string()
            .optional()
            .describe(
              "Path of clamd's unix socket (LocalSocket in clamd.conf, e.g. /run/clamav/clamd.ctl). When set, host and port are not used.",
            ),
          host: z
            .string()
            .default('127.0.0.1')
            .describe('Address of clamd (TCPAddr in clamd.conf), used when no socket is set.'),
          port: port.default(3310).describe('TCP port of clamd (TCPSocket in clamd.conf).'),
          timeoutMs: z.coerce
            .number()
            .int()
            .positive()
            .default(60_000)
            .describe(
              'Longest a scan may take, from connecting to the answer; a scan that takes longer counts as the scanner being unavailable, and the message is deferred (4xx) for the sender to retry.',
            ),
          maxStreamBytes: z.coerce
            .number()
            .int()
            .positive()
            .default(25 * 1024 * 1024)
            .describe(
              "Largest message sent to clamd, in bytes: set it to clamd's StreamMaxLength (clamd's default is 25M, 26214400 bytes). A larger message is not scanned and gets the scanner-error result.",
            ),
          maxConcurrent: z.coerce
            .number()
            .int()
            .positive()
            .default(4)
            .describe(
              'Scans sent to clamd at once (keep below its MaxThreads); a few more wait their turn, and beyond that messages are deferred (4xx).',
            ),
          failOpen: flag
            .default(false)
            .describe(
              'DANGER: when on and clamd cannot be reached, mail is DELIVERED WITHOUT A VIRUS SCAN (SYS-4, SYS-7 are then not met). When off (the default), such mail is deferred with a temporary failure (4xx) and the sender retries until clamd is back.',
            ),
        })
        .prefault({})
        .describe(
          'The ClamAV daemon (clamd) that scans every message and attachment (SYS-4, SYS-7).',
        ),
      relay: z
        .object({
          enabled: flag.default(true).describe('Run the SMTP relay with `custos serve`.'),
          host: z.string().default('0.0.0.0').describe('Address the SMTP relay listens on.'),
          port: port.default(2525).describe('Port of the SMTP relay (25 where it may bind).'),
          hostname: z
            .string()
            .optional()
            .describe(
              'Name of the relay: in its greeting, in the Received header it adds to each message it passes on, and in its EHLO to next hops. Defaults to the host name of this machine.',
            ),
          maxMessageBytes: z.coerce
            .number()
            .int()
            .positive()
            .default(35 * 1024 * 1024)
            .describe('Largest message accepted (advertised with SIZE); larger ones get 552.'),
          maxRecipients: z.coerce
            .number()
            .int()
            .positive()
            .default(500)
            .describe('Recipients per message; more get 452 and the sender sends the rest again.'),
          trustedNetworks: z
            .array(z.string())
            .default([])
            .describe(
              'Addresses or CIDR ranges whose mail is outbound without SMTP AUTH: the outbound connector of the school mail service (Microsoft 365 and Google Workspace publish their ranges). Anyone else may only send to the school domains.',
            ),
          tlsCertFile: z
            .string()
            .optional()
            .describe('PEM certificate for STARTTLS; with tlsKeyFile, STARTTLS is offered.'),
          tlsKeyFile: z.string().optional().describe('PEM private key for STARTTLS.'),
          allowInsecureAuth: flag
            .default(false)
            .describe('Allow SMTP AUTH without TLS (only on a private link, or for testing).'),
          socketTimeoutMs: z.coerce
            .number()
            .int()
            .positive()
            .default(60_000)
            .describe('A client silent for this long is disconnected.'),
          maxClients: z.coerce
            .number()
            .int()
            .positive()
            .default(200)
            .describe('Connections at once; more are turned away with 421.'),
          nextHopTimeoutMs: z.coerce
            .number()
            .int()
            .positive()
            .default(60_000)
            .describe('How long the next hop may take to answer before the sender is told 4xx.'),
        })
        .prefault({})
        .describe('The SMTP relay (SYS-4, SYS-7, SYS-8, MAIL-2/4/5/8/9/11/12/13).'),
      inbound: z
        .object(nextHopFields)
        .prefault({})
        .describe(
          'Where inbound mail goes after the checks: the school mail service (Microsoft 365: the MX host of the tenant, e.g. palfreyinfant-co-uk.mail.protection.outlook.com; Google Workspace: aspmx.l.google.com).',
        ),
      outbound: outboundHop,
      vaultKeyFile: z
        .string()
        .optional()
        .describe(
          'The master key that encrypts held and kept mail content (64 hex digits, created on first start). Defaults to vault.key inside dataDir. Keep it out of database backups and back it up separately: without it kept content cannot be read.',
        ),
    })
    .prefault({})
    .describe('The mail gateway.'),
  log: z
    .object({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .describe('Least severe log level written.'),
    })
    .prefault({})
    .describe('Logging (JSON lines on standard output).'),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

const ENV_PREFIX = 'CUSTOS_';

/** Turns CUSTOS_AUTH__OIDC__GOOGLE__CLIENT_ID into ['auth', 'oidc', 'google', 'clientId']. */
export function envKeyToPath(key: string): string[] {
  return key
    .slice(ENV_PREFIX.length)
    .split('__')
    .map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
}

function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

function envValue(raw: string): unknown {
  const trimmed = raw.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return raw;
    }
  }
  return raw;
}

export interface LoadConfigOptions {
  /** A YAML file; when unset, CUSTOS_CONFIG or ./custos.yaml if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values that win over everything else (command-line flags). */
  overrides?: Record<string, unknown>;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const explicit = options.file ?? env.CUSTOS_CONFIG;
  const file = explicit ?? (existsSync('custos.yaml') ? 'custos.yaml' : undefined);
  let raw: Record<string, unknown> = {};
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`Configuration file ${file} does not exist.`, []);
    const parsed = parseYaml(readFileSync(file, 'utf8')) as unknown;
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new ConfigError(`Configuration file ${file} must hold a YAML mapping.`, []);
    }
    raw = (parsed as Record<string, unknown>) ?? {};
  }
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || key === 'CUSTOS_CONFIG' || value === undefined) continue;
    setPath(raw, envKeyToPath(key), envValue(value));
  }
  if (env.DATABASE_URL) setPath(raw, ['database', 'url'], env.DATABASE_URL);
  for (const [dotted, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) setPath(raw, dotted.split('.'), value);
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new ConfigError(
      `The configuration is not valid${file ? ` (${file} and environment)` : ''}:\n  ${problems.join('\n  ')}`,
      problems,
    );
  }
  return result.data;
}

export function sqlitePathOf(config: Config): string {
  return config.database.sqlitePath ?? path.join(config.dataDir, 'custos.db');
}

const SECRET_KEY = /secret|password|token|key$/i;

/** A copy with secrets replaced, for printing. */
export function redactConfig(config: Config): unknown {
  const walk = (value: unknown, key: string): unknown => {
    if (typeof value === 'string') {
      if (SECRET_KEY.test(key)) return '(redacted)';
      if (key === 'url' && /^postgres(ql)?:/.test(value)) {
        try {
          const url = new URL(value);
          if (url.password) url.password = 'redacted';
          return url.toString();
        } catch {
          return '(redacted)';
        }
      }
      return value;
    }
    if (Array.isArray(value)) return value.map((v) => walk(v, key));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    }
    return value;
  };
  return walk(config, '');
}
