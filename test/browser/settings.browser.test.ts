// Settings as the School Business Manager uses it (GOV-1, GOV-6): a broken policy pack is shown
// with every problem by file, line, column and key and cannot be applied; a good one is applied
// after a confirmation that says what changes, and is in force at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replaceOnce, shippedPackText } from '../support/policy-pack.ts';
import {
  type Account,
  checkAccessibility,
  type Harness,
  screenshot,
  setUpFirstAccount,
  startHarness,
} from './support/harness.ts';

/** True once no CSS transition or animation runs (Mantine's dialog fades in and out). */
const animationsDone = () =>
  (globalThis as unknown as { document: { getAnimations(): unknown[] } }).document.getAnimations()
    .length === 0;

const yamlFile = (name: string, text: string) => ({
  name,
  mimeType: 'application/yaml',
  buffer: Buffer.from(text, 'utf8'),
});

describe('settings: policy packs', { timeout: 180_000 }, () => {
  let h: Harness;
  let sbm: Account;

  beforeAll(async () => {
    h = await startHarness();
    sbm = await setUpFirstAccount(h.server);
  }, 240_000);
  afterAll(async () => {
    await h?.close();
  });

  it('GOV-6: the SBM sees a broken pack’s errors with their lines, then applies a good pack', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    await page.goto('/');
    await page.getByRole('link', { name: /^Settings/ }).click();
    // Off the navigation: a hovered active link is a lighter blue (a shell matter, not this screen).
    await page.mouse.move(900, 700);
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    await page.getByText('No pack has been uploaded yet').waitFor();
    await page.getByTestId('pack-in-force').getByText('palfrey-infant').first().waitFor();
    await checkAccessibility(page, 'settings, nothing uploaded');

    const broken = replaceOnce(
      replaceOnce(shippedPackText(), 'reviewIntervalMonths: 12', 'reviewIntervalMonths: twelve'),
      'name: Staff\n',
      'name: Staff\n    colour: blue\n',
    );
    const lineOf = (needle: string) => broken.split('\n').findIndex((l) => l.includes(needle)) + 1;
    await page.locator('input[type=file]').setInputFiles(yamlFile('policy.yaml', broken));
    await page.getByRole('button', { name: 'Check the pack' }).click();
    await page.getByTestId('pack-problems').waitFor();
    await page.getByText('This pack cannot be applied').waitFor();
    const rows = await page.getByTestId('pack-error').allTextContents();
    expect(rows).toHaveLength(2);
    expect(rows.some((r) => r.includes(`policy.yaml${lineOf('twelve')}`))).toBe(true);
    expect(rows.some((r) => r.includes('document.reviewIntervalMonths'))).toBe(true);
    expect(rows.some((r) => r.includes(String(lineOf('colour: blue'))))).toBe(true);
    expect(rows.some((r) => r.includes('roles.staff.colour'))).toBe(true);
    expect(await page.getByRole('button', { name: /^Apply/ }).count()).toBe(0);
    await page.getByTestId('pack-row').getByText('2 problems').waitFor();
    await checkAccessibility(page, 'settings with a broken pack');
    await page.getByTestId('pack-problems').evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await screenshot(page, 'settings');

    const good = replaceOnce(
      shippedPackText(),
      'name: palfrey-infant',
      'name: palfrey-infant-2027',
    );
    await page.locator('input[type=file]').setInputFiles(yamlFile('policy.yaml', good));
    await page.getByRole('button', { name: 'Check the pack' }).click();
    await page.getByText('The pack is valid').waitFor();
    await page.getByRole('button', { name: 'Apply this pack…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Apply palfrey-infant-2027?' });
    await dialog.waitFor();
    const comparison = dialog.getByTestId('pack-comparison');
    await comparison.getByText('palfrey-infant-2027').waitFor();
    expect(await comparison.getByRole('row', { name: /^Clauses/ }).textContent()).toMatch(
      /^Clauses(\d+)\1$/,
    );
    // The dialog fades in; check the colours once it has.
    await page.waitForFunction(animationsDone);
    await checkAccessibility(page, 'settings, confirming the application');
    await dialog.getByRole('button', { name: 'Apply the pack' }).click();
    await page.getByText('The pack is in force').waitFor();
    await page
      .getByTestId('pack-in-force')
      .getByRole('heading', { name: 'The pack in force: palfrey-infant-2027' })
      .waitFor();
    await page.getByTestId('pack-row').getByText('In force').waitFor();

    const policy = await page.request.get('/api/policy');
    expect(((await policy.json()) as { name: string }).name).toBe('palfrey-infant-2027');
    await dialog.waitFor({ state: 'hidden' });
    await page.waitForFunction(animationsDone);
    await checkAccessibility(page, 'settings after applying');
  });
});
