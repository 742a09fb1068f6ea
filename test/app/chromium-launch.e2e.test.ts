import { expect, it } from 'vitest';
import {
  launchChromium,
  ourDisabledFeatures,
  playwrightDisabledFeatures,
} from '../helpers/browser.ts';

it('launches Chromium with one --disable-features switch that keeps Playwright’s features and adds ours', async () => {
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto('chrome://version');
    const line = (await page.locator('#command_line').textContent()) ?? '';
    // Chromium keeps only the last of several: there must be one, with both lists in it.
    const switches = line.split(/\s+/).filter((arg) => arg.startsWith('--disable-features='));
    expect(switches).toHaveLength(1);
    const features = switches[0]!.slice('--disable-features='.length).split(',');
    expect(features).toEqual(
      expect.arrayContaining([...playwrightDisabledFeatures(), ...ourDisabledFeatures]),
    );
    expect(playwrightDisabledFeatures()).toContain('HttpsUpgrades');
  } finally {
    await browser.close();
  }
});
