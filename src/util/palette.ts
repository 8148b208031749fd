/**
 * The colour map for classes no dataset palette covers: PASCAL VOC's bit-interleaved map (class k's
 * bits spread over R, G, B from the top bit down), distinct for every k < 2^24. Pure: the browser page
 * (src/web/app.ts) and `segment` share it.
 */
export function indexPalette(numClasses: number, from = 0): number[][] {
  return Array.from({ length: Math.max(0, numClasses - from) }, (_, i) => {
    let r = 0; let g = 0; let b = 0; let k = from + i;
    for (let bit = 7; bit >= 0 && k > 0; bit--, k >>= 3) { r |= (k & 1) << bit; g |= ((k >> 1) & 1) << bit; b |= ((k >> 2) & 1) << bit; }
    return [r, g, b];
  });
}
