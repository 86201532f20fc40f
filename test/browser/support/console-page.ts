// Steps through the console that several browser tests take the same way.
import type { Page } from 'playwright-core';

/** True once no CSS transition or animation runs (Mantine's tabs and dialogs animate). */
export const animationsDone = () =>
  (globalThis as unknown as { document: { getAnimations(): unknown[] } }).document.getAnimations()
    .length === 0;

/** From Needs my attention, follows the item that says `item` to its tab, named `tab`. */
export async function followAttention(page: Page, item: string, tab: string): Promise<void> {
  await page.goto('/');
  const entry = page.getByTestId('attention-item').filter({ hasText: item });
  await entry.waitFor();
  await entry.getByRole('link', { name: 'Review' }).click();
  await page.getByRole('tab', { name: tab, selected: true }).waitFor();
}
