// Batched UDP for the DNS filter (src/webfilter/dns/batched-udp.ts): one wake-up of the event
// loop reads up to BATCH datagrams with recvmmsg(2) and hands them to JavaScript in one call, and
// the datagrams JavaScript queues during that call (or before its next microtask checkpoint) leave
// in one sendmmsg(2). node:dgram costs a callback, a
// Buffer and an address string per datagram, and a request object per reply; at the rates a
// school's resolver sees that is most of the filter's time. Linux only; where this does not build
// or load, the filter uses node:dgram.
//
// Memory is the caller's: JavaScript allocates the receive and send arenas and the tables below
// and passes them once to bind(); they stay referenced here until close().
//   in:      BATCH slots of SLOT octets, one datagram each
//   inMeta:  Int32Array, META ints a slot: [length, family (4|6), port, a0, a1, a2, a3, scope id]
//            (a0..a3: the address's octets in network order read as 32-bit words; an IPv4-mapped
//            IPv6 source is given as family 4)
//   out:     BATCH slots of SLOT octets, datagrams queued to be sent
//   outMeta: Int32Array, META ints a slot: [length, family, port, a0, a1, a2, a3, scope id], the
//            destination given as inMeta gives a source

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define BATCH 64
#define SLOT 4096
#define META 8
// Rounds of recvmmsg in one wake-up before other work on the loop gets its turn.
#define ROUNDS 8

typedef struct {
  napi_env env;
  int fd;
  int family; // the socket's: AF_INET or AF_INET6
  int closed;
  uv_poll_t poll;
  napi_ref onBatch; // function (count) called with the datagrams of one recvmmsg
  napi_ref self;    // keeps the handle alive while the socket is open
  napi_ref buffers[4];
  napi_async_context context;
  uint8_t *in;
  int32_t *inMeta;
  uint8_t *out;
  int32_t *outMeta;
  struct mmsghdr inMsgs[BATCH];
  struct iovec inIov[BATCH];
  struct sockaddr_storage inAddr[BATCH];
  struct mmsghdr outMsgs[BATCH];
  struct iovec outIov[BATCH];
  struct sockaddr_storage outAddr[BATCH];
  // Counters read by stats(): datagrams received, replies sent, replies the kernel refused,
  // datagrams too long for a slot.
  double received, sent, sendErrors, oversized;
} Sock;

#define CALL(env, call)                                                                         \
  do {                                                                                           \
    if ((call) != napi_ok) {                                                                     \
      const napi_extended_error_info *info = NULL;                                               \
      napi_get_last_error_info((env), &info);                                                    \
      bool pending = false;                                                                      \
      napi_is_exception_pending((env), &pending);                                                \
      if (!pending)                                                                              \
        napi_throw_error((env), NULL,                                                            \
                         info && info->error_message ? info->error_message : "N-API call failed"); \
      return NULL;                                                                               \
    }                                                                                            \
  } while (0)

static napi_value throwErrno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  char code[32];
  snprintf(code, sizeof code, "E%s", err == EADDRINUSE ? "ADDRINUSE" : err == EACCES ? "ACCES" : err == EADDRNOTAVAIL ? "ADDRNOTAVAIL" : "SOCKET");
  napi_throw_error(env, code, message);
  return NULL;
}

/** Writes a source address into its slot's meta ints. */
static void describe(const struct sockaddr_storage *addr, int32_t *meta) {
  memset(meta + 1, 0, (META - 1) * sizeof(int32_t));
  if (addr->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
    meta[1] = 4;
    meta[2] = ntohs(a->sin_port);
    memcpy(&meta[3], &a->sin_addr, 4);
  } else if (addr->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
    meta[2] = ntohs(a->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      meta[1] = 4;
      memcpy(&meta[3], &a->sin6_addr.s6_addr[12], 4);
    } else {
      meta[1] = 6;
      memcpy(&meta[3], &a->sin6_addr, 16);
      meta[7] = (int32_t)a->sin6_scope_id;
    }
  }
}

/** Builds the socket address for a reply from family, port and address words. */
static socklen_t target(const Sock *s, int family, int port, const int32_t words[4], uint32_t scope,
                        struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (s->family == AF_INET) {
    if (family != 4) return 0;
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    memcpy(&a->sin_addr, &words[0], 4);
    return sizeof *a;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  if (family == 4) {
    a->sin6_addr.s6_addr[10] = 0xff;
    a->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&a->sin6_addr.s6_addr[12], &words[0], 4);
  } else {
    memcpy(&a->sin6_addr, words, 16);
    a->sin6_scope_id = scope;
  }
  return sizeof *a;
}

static void onReadable(uv_poll_t *handle, int status, int events) {
  Sock *s = handle->data;
  if (s->closed) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver;
  napi_get_reference_value(env, s->onBatch, &callback);
  napi_get_global(env, &receiver);
  if (status < 0) {
    // The socket cannot be watched any more: stop, and tell JavaScript (a negative count).
    uv_poll_stop(&s->poll);
    napi_value code, result;
    napi_create_int32(env, status, &code);
    napi_make_callback(env, s->context, receiver, callback, 1, &code, &result);
    napi_close_handle_scope(env, scope);
    return;
  }
  for (int round = 0; round < ROUNDS && !s->closed; round++) {
    for (int i = 0; i < BATCH; i++) {
      s->inMsgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      s->inMsgs[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(s->fd, s->inMsgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) break; // EAGAIN, or an error the next datagram will show again
    int kept = 0;
    for (int i = 0; i < n; i++) {
      int32_t *meta = s->inMeta + i * META;
      if (s->inMsgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        s->oversized++;
        meta[0] = -1; // longer than a slot: no DNS query over UDP is
      } else {
        meta[0] = (int32_t)s->inMsgs[i].msg_len;
        kept++;
      }
      describe(&s->inAddr[i], meta);
    }
    s->received += kept;
    napi_value count, result;
    napi_create_int32(env, n, &count);
    napi_status called = napi_make_callback(env, s->context, receiver, callback, 1, &count, &result);
    if (called != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value error;
        napi_get_and_clear_last_exception(env, &error);
        napi_fatal_exception(env, error);
      }
      break;
    }
    if (n < BATCH) break;
  }
  napi_close_handle_scope(env, scope);
}

static Sock *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_error(env, NULL, "not a batched UDP socket");
    return NULL;
  }
  return data;
}

static int32_t intArg(napi_env env, napi_value v) {
  int32_t n = 0;
  napi_get_value_int32(env, v, &n);
  return n;
}

/** flush(count): sends out-slots 0..count-1, each to the destination in its meta; returns how many went. */
static napi_value Flush(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Sock *s = unwrap(env, info, &argc, argv);
  if (s == NULL) return NULL;
  int count = intArg(env, argv[0]);
  if (count < 0 || count > BATCH) {
    napi_throw_range_error(env, NULL, "flush: count out of range");
    return NULL;
  }
  int m = 0;
  for (int j = 0; j < count; j++) {
    const int32_t *meta = s->outMeta + j * META;
    int length = meta[0];
    if (length <= 0 || length > SLOT) continue;
    socklen_t len = target(s, meta[1], meta[2], meta + 3, (uint32_t)meta[7], &s->outAddr[m]);
    if (len == 0) {
      s->sendErrors++; // an IPv6 destination on an IPv4 socket
      continue;
    }
    s->outIov[m].iov_base = s->out + (size_t)j * SLOT;
    s->outIov[m].iov_len = (size_t)length;
    memset(&s->outMsgs[m].msg_hdr, 0, sizeof(struct msghdr));
    s->outMsgs[m].msg_hdr.msg_iov = &s->outIov[m];
    s->outMsgs[m].msg_hdr.msg_iovlen = 1;
    s->outMsgs[m].msg_hdr.msg_name = &s->outAddr[m];
    s->outMsgs[m].msg_hdr.msg_namelen = len;
    m++;
  }
  int done = 0, sent = 0;
  while (done < m && !s->closed) {
    int r = sendmmsg(s->fd, s->outMsgs + done, (unsigned)(m - done), MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      // A full send buffer or an unreachable client: this datagram is lost, as it would be on
      // the wire; the rest still go.
      s->sendErrors++;
      done++;
      continue;
    }
    done += r;
    sent += r;
  }
  s->sent += sent;
  napi_value result;
  napi_create_int32(env, sent, &result);
  return result;
}

/** sendTo(buffer, length, family, port, a0, a1, a2, a3, scope): one reply outside a batch. */
static napi_value SendTo(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  Sock *s = unwrap(env, info, &argc, argv);
  if (s == NULL) return NULL;
  if (argc < 9) {
    napi_throw_type_error(env, NULL, "sendTo: nine arguments");
    return NULL;
  }
  void *data = NULL;
  size_t size = 0;
  CALL(env, napi_get_buffer_info(env, argv[0], &data, &size));
  int32_t length = intArg(env, argv[1]);
  if (length < 0 || (size_t)length > size) {
    napi_throw_range_error(env, NULL, "sendTo: length out of range");
    return NULL;
  }
  int32_t words[4] = {intArg(env, argv[4]), intArg(env, argv[5]), intArg(env, argv[6]),
                      intArg(env, argv[7])};
  struct sockaddr_storage to;
  socklen_t len = target(s, intArg(env, argv[2]), intArg(env, argv[3]), words,
                         (uint32_t)intArg(env, argv[8]), &to);
  bool ok = false;
  if (len > 0 && !s->closed) {
    ssize_t r;
    do {
      r = sendto(s->fd, data, (size_t)length, MSG_DONTWAIT, (struct sockaddr *)&to, len);
    } while (r < 0 && errno == EINTR);
    ok = r >= 0;
    if (ok) s->sent++;
    else s->sendErrors++;
  }
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

static void onClosed(uv_handle_t *handle) {
  Sock *s = handle->data;
  napi_env env = s->env;
  close(s->fd);
  s->fd = -1;
  for (int i = 0; i < 4; i++) napi_delete_reference(env, s->buffers[i]);
  napi_delete_reference(env, s->onBatch);
  napi_async_destroy(env, s->context);
  napi_delete_reference(env, s->self); // the object may now be collected; finalize frees s
}

static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock *s = unwrap(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  if (!s->closed) {
    s->closed = 1;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, onClosed);
  }
  return NULL;
}

static napi_value Stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock *s = unwrap(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  napi_value result, v;
  CALL(env, napi_create_object(env, &result));
  const char *names[] = {"received", "sent", "sendErrors", "oversized"};
  double values[] = {s->received, s->sent, s->sendErrors, s->oversized};
  for (int i = 0; i < 4; i++) {
    CALL(env, napi_create_double(env, values[i], &v));
    CALL(env, napi_set_named_property(env, result, names[i], v));
  }
  return result;
}

static napi_value LocalPort(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock *s = unwrap(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (getsockname(s->fd, (struct sockaddr *)&addr, &len) != 0) return throwErrno(env, "getsockname", errno);
  int port = addr.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&addr)->sin_port)
                                       : ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
  napi_value result;
  napi_create_int32(env, port, &result);
  return result;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void *bufferArg(napi_env env, napi_value v, size_t need, napi_ref *ref) {
  void *data = NULL;
  size_t size = 0;
  bool isTyped = false;
  napi_is_typedarray(env, v, &isTyped);
  if (!isTyped) return NULL;
  napi_typedarray_type type;
  size_t length, offset;
  napi_value arraybuffer;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &arraybuffer, &offset) != napi_ok) return NULL;
  size = length * (type == napi_int32_array ? 4 : 1);
  if (size < need) return NULL;
  if (napi_create_reference(env, v, 1, ref) != napi_ok) return NULL;
  return data;
}

/**
 * bind(host, port, onBatch, in, inMeta, out, outMeta, receiveBuffer, sendBuffer): a bound,
 * non-blocking UDP socket whose datagrams go to onBatch(count).
 */
static napi_value Bind(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) {
    napi_throw_type_error(env, NULL, "bind: nine arguments");
    return NULL;
  }
  char host[64];
  size_t hostLength = 0;
  CALL(env, napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hostLength));
  int port = intArg(env, argv[1]);
  if (port < 0 || port > 65535) {
    napi_throw_range_error(env, NULL, "bind: port out of range");
    return NULL;
  }
  Sock *s = calloc(1, sizeof *s);
  if (s == NULL) {
    napi_throw_error(env, NULL, "bind: out of memory");
    return NULL;
  }
  s->env = env;
  s->fd = -1;
  s->in = bufferArg(env, argv[3], (size_t)BATCH * SLOT, &s->buffers[0]);
  s->inMeta = bufferArg(env, argv[4], (size_t)BATCH * META * 4, &s->buffers[1]);
  s->out = bufferArg(env, argv[5], (size_t)BATCH * SLOT, &s->buffers[2]);
  s->outMeta = bufferArg(env, argv[6], (size_t)BATCH * META * 4, &s->buffers[3]);
  if (!s->in || !s->inMeta || !s->out || !s->outMeta) {
    for (int i = 0; i < 4; i++)
      if (s->buffers[i]) napi_delete_reference(env, s->buffers[i]);
    free(s);
    napi_throw_type_error(env, NULL, "bind: arenas too small");
    return NULL;
  }
  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof addr);
  socklen_t addrLength;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    addrLength = sizeof *a4;
    s->family = AF_INET;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    addrLength = sizeof *a6;
    s->family = AF_INET6;
  } else {
    for (int i = 0; i < 4; i++) napi_delete_reference(env, s->buffers[i]);
    free(s);
    napi_throw_type_error(env, NULL, "bind: host is not an IP address");
    return NULL;
  }
  int fd = socket(s->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int err = 0;
  if (fd < 0) err = errno;
  if (!err && s->family == AF_INET6) {
    int off = 0; // "::" takes IPv4 as well, as node:dgram's udp6 does
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (!err) {
    int sizes[2] = {intArg(env, argv[7]), intArg(env, argv[8])};
    if (sizes[0] > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sizes[0], sizeof sizes[0]);
    if (sizes[1] > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sizes[1], sizeof sizes[1]);
    if (bind(fd, (struct sockaddr *)&addr, addrLength) != 0) err = errno;
  }
  if (err) {
    if (fd >= 0) close(fd);
    for (int i = 0; i < 4; i++) napi_delete_reference(env, s->buffers[i]);
    free(s);
    return throwErrno(env, "bind", err);
  }
  s->fd = fd;
  for (int i = 0; i < BATCH; i++) {
    s->inIov[i].iov_base = s->in + (size_t)i * SLOT;
    s->inIov[i].iov_len = SLOT;
    s->inMsgs[i].msg_hdr.msg_iov = &s->inIov[i];
    s->inMsgs[i].msg_hdr.msg_iovlen = 1;
    s->inMsgs[i].msg_hdr.msg_name = &s->inAddr[i];
  }
  napi_value self, name;
  CALL(env, napi_create_object(env, &self));
  napi_property_descriptor methods[] = {
      {"flush", NULL, Flush, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, SendTo, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, Stats, NULL, NULL, NULL, napi_default, NULL},
      {"port", NULL, LocalPort, NULL, NULL, NULL, napi_default, NULL},
  };
  CALL(env, napi_define_properties(env, self, sizeof methods / sizeof methods[0], methods));
  CALL(env, napi_wrap(env, self, s, finalize, NULL, NULL));
  CALL(env, napi_create_reference(env, self, 1, &s->self));
  CALL(env, napi_create_reference(env, argv[2], 1, &s->onBatch));
  CALL(env, napi_create_string_utf8(env, "custos:dns-udp", NAPI_AUTO_LENGTH, &name));
  CALL(env, napi_async_init(env, NULL, name, &s->context));
  uv_loop_t *loop = NULL;
  CALL(env, napi_get_uv_event_loop(env, &loop));
  s->poll.data = s;
  if (uv_poll_init(loop, &s->poll, fd) != 0 || uv_poll_start(&s->poll, UV_READABLE, onReadable) != 0) {
    napi_throw_error(env, NULL, "bind: could not watch the socket");
    return NULL;
  }
  return self;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn, value;
  CALL(env, napi_create_function(env, "bind", NAPI_AUTO_LENGTH, Bind, NULL, &fn));
  CALL(env, napi_set_named_property(env, exports, "bind", fn));
  CALL(env, napi_create_int32(env, BATCH, &value));
  CALL(env, napi_set_named_property(env, exports, "BATCH", value));
  CALL(env, napi_create_int32(env, SLOT, &value));
  CALL(env, napi_set_named_property(env, exports, "SLOT", value));
  CALL(env, napi_create_int32(env, META, &value));
  CALL(env, napi_set_named_property(env, exports, "META", value));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
