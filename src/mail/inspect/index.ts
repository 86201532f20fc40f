// The MIME walk of the mail gateway: one function that reports what a raw message contains,
// in the shared types of src/mail/types.ts. A library: no network, no database.

export { inspectMessage, inspectWithPolicy } from './inspect.ts';
export {
  DEFAULT_EXECUTABLES,
  DEFAULT_LIMITS,
  DEFAULT_PRIVATE_HEADERS,
  DEFAULT_PRIVATE_SUBJECT_MARKERS,
  DEFAULT_SCRIPTS,
  type InspectLimits,
  type InspectOptions,
  inspectOptionsFromPolicy,
  type PrivateHeader,
} from './options.ts';
