// The category engine: list formats, normalisation, the matcher, the school's overlay and the
// swap holder. Everything here is pure except the loader functions.

export {
  type CategoryUsage,
  detectFormat,
  LIST_FORMATS,
  type ListFormat,
  ListParser,
  type ListSink,
  MAX_LINE_LENGTH,
  type ParsedList,
  type ParseOptions,
  type ParseSummary,
  parseList,
  parseListInto,
  parseUsage,
  type SkippedLine,
} from './formats.ts';
export {
  type CategoryReport,
  type FileLoadOptions,
  ListLoadError,
  type LoadErrorCode,
  type LoadOptions,
  type LoadProgress,
  type LoadReport,
  type LoadResult,
  loadCategories,
  loadCategoryFolder,
  loadCategoryTarball,
  loadListFile,
  type ReportedSkip,
} from './loader.ts';
export {
  buildIndex,
  CATEGORY_NAME,
  type CategoryIndex,
  CategoryIndexBuilder,
  type CategorySource,
  type IndexStats,
  indexStats,
  type UrlEntry,
} from './matcher.ts';
export {
  type HostKind,
  type NormalisedHost,
  type NormalisedUrl,
  normaliseHost,
  normalisePath,
  normaliseUrl,
} from './normalise.ts';
export {
  createOverlay,
  type HostVerdict,
  type OverlayIndex,
  SCHOOL_DENY,
  type SchoolLists,
} from './overlay.ts';
export { CategoryStore, emptyIndex } from './store.ts';
