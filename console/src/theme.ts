// The console's look: Mantine's defaults with shades dark enough for WCAG 2.2 AA contrast
// (4.5:1 for text) on white, and a focus ring that is always visible.
import { type CSSVariablesResolver, createTheme } from '@mantine/core';

export const theme = createTheme({
  primaryColor: 'blue',
  primaryShade: 9,
  focusRing: 'always',
  fontFamily:
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif',
  defaultRadius: 'sm',
  headings: { fontWeight: '650' },
  cursorType: 'pointer',
});

/** Dimmed text and placeholders a shade darker than Mantine's, so they pass AA contrast. */
export const cssVariablesResolver: CSSVariablesResolver = (t) => ({
  variables: {},
  light: {
    '--mantine-color-dimmed': t.colors.gray[7]!,
    '--mantine-color-placeholder': '#6a7178',
    '--mantine-color-anchor': t.colors.blue[9]!,
    '--mantine-color-error': t.colors.red[9]!,
    '--mantine-color-green-light-color': '#1e6b32',
    '--mantine-color-red-light-color': '#a51d1d',
    // Filled controls (the current page in the navigation, primary buttons) darken on hover
    // rather than lighten, so white text keeps at least 4.5:1.
    '--mantine-color-blue-filled-hover': '#104a80',
  },
  dark: {},
});
