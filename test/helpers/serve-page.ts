/**
 * Reading `bisenet serve`'s page in a browser (playwright): the mask canvas's colours with their pixel
 * counts, and the class legend as the page shows it. Shared by test/cli/serve.test.ts and the pack test.
 */
import type { Page } from 'playwright-core';

export interface PageMask { width: number; height: number; rgb: number[]; colours: Map<string, number> }
export interface LegendItem { cls: number; rgb: string; text: string; absent: boolean }

/** The mask canvas as drawn: one "r,g,b" per pixel (row-major), and how many pixels each colour covers. */
export async function readMask(page: Page): Promise<PageMask> {
  const m = await page.evaluate(() => {
    const c = document.getElementById('mask') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const rgb: number[] = [];
    for (let i = 0; i < d.length; i += 4) rgb.push((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
    return { width: c.width, height: c.height, rgb };
  });
  const colours = new Map<string, number>();
  for (const v of m.rgb) { const k = `${v >> 16},${(v >> 8) & 255},${v & 255}`; colours.set(k, (colours.get(k) ?? 0) + 1); }
  return { ...m, colours };
}

export async function readLegend(page: Page): Promise<LegendItem[]> {
  return page.$$eval('#legend .cls', (items) => items.map((e) => ({
    cls: Number((e as HTMLElement).dataset.class), rgb: (e as HTMLElement).dataset.rgb ?? '', text: e.textContent ?? '', absent: e.classList.contains('absent'),
  })));
}
