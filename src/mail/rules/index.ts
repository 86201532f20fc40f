// The mail content rules as a library: evaluateRules() on one message against the policy pack's
// mail section, and the pieces it is made of (identifier checks, word lists, patterns), which
// know nothing of SMTP, storage or the network.

export { addressesIn, addressOf, createDomainTest, domainOf } from './addresses.ts';
export {
  attachmentPolicyVerdicts,
  describeAttachment,
  isDisguised,
  nameExtension,
} from './attachments.ts';
export {
  type CompiledMailRules,
  compileMailRules,
  evaluateRules,
  FROM_ADDRESS_ACTION,
  FROM_ADDRESS_CLAUSES,
  fromAddressVerdict,
  type RuleInput,
} from './evaluate.ts';
export {
  isValidNhsNumber,
  isValidNiNumber,
  isValidUpn,
  nhsCheckDigit,
  UPN_LETTERS,
  upnCheckLetter,
} from './identifiers.ts';
export { backtrackingRisk, PATTERN_TEXT_LIMIT } from './patterns.ts';
export {
  countBankDetails,
  countDatesOfBirth,
  countNhsNumbers,
  countNiNumbers,
  countUpns,
  type Detector,
  detectPersonalData,
} from './personal-data.ts';
export { type Tokens, WordList } from './words.ts';
