import * as zlib from 'node:zlib';
import { fail } from '../util/errors.js';
import { LIMITS } from '../util/limits.js';
import { escapeText } from '../util/render.js';

/**
 * A read-only zip reader for the archives torch.save writes: stored (uncompressed) entries,
 * zip64 records for large files, data descriptors, any top folder name. Deflated entries are
 * accepted too (users re-zip checkpoints), inflated with a bound taken from the central directory.
 * Every offset and length is checked against the file before it is used.
 *
 * What PyTorch's reader (miniz) refuses is refused here too: encrypted entries, local headers that
 * disagree with the central directory (another name, method or size), entries whose data overlap
 * another's or the directory, and data whose CRC-32 is wrong. Each deflated entry is inflated at most
 * once (cached), and the bytes inflated from one archive are budgeted in all (LIMITS.zipInflatedBytes).
 */
export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** where the entry's data starts (after its local header), filled in when the directory is read */
  dataStart: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

function u64(view: DataView, off: number): number {
  const v = view.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  return Number(v);
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;
  private readonly inflated = new Map<string, Uint8Array>();
  private readonly checked = new Set<string>();
  private inflatedBytes = 0;

  constructor(private readonly bytes: Uint8Array, private readonly label: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
  }

  private bad(msg: string): never {
    fail('format', `${this.label}: not a valid zip archive (${msg})`);
  }

  private findEocd(): number {
    const min = Math.max(0, this.bytes.length - 22 - 0xffff);
    for (let off = this.bytes.length - 22; off >= min; off--) {
      if (this.view.getUint32(off, true) === SIG_EOCD) return off;
    }
    return this.bad('end of central directory not found; the file may be truncated');
  }

  private readCentralDirectory(): void {
    if (this.bytes.length < 22) this.bad('file too short');
    const eocd = this.findEocd();
    let count = this.view.getUint16(eocd + 10, true);
    let cdSize = this.view.getUint32(eocd + 12, true);
    let cdOffset = this.view.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.view.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) this.bad('zip64 locator missing');
      const eocd64 = u64(this.view, loc + 8);
      if (eocd64 + 56 > this.bytes.length || this.view.getUint32(eocd64, true) !== SIG_EOCD64) this.bad('zip64 end record missing');
      count = u64(this.view, eocd64 + 32);
      cdSize = u64(this.view, eocd64 + 40);
      cdOffset = u64(this.view, eocd64 + 48);
    }
    // Each central directory entry takes at least 46 bytes: a count beyond that is a lie.
    if (count > LIMITS.zipEntries || count * 46 > this.bytes.length) this.bad(`${count} entries declared`);
    if (cdOffset + cdSize > this.bytes.length) this.bad('central directory lies beyond the end of the file');
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > this.bytes.length || this.view.getUint32(p, true) !== SIG_CENTRAL) this.bad(`central directory entry ${i} is damaged`);
      const flags = this.view.getUint16(p + 8, true);
      const method = this.view.getUint16(p + 10, true);
      const crc32 = this.view.getUint32(p + 16, true);
      let compressedSize = this.view.getUint32(p + 20, true);
      let uncompressedSize = this.view.getUint32(p + 24, true);
      const nameLen = this.view.getUint16(p + 28, true);
      const extraLen = this.view.getUint16(p + 30, true);
      const commentLen = this.view.getUint16(p + 32, true);
      let localHeaderOffset = this.view.getUint32(p + 42, true);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > this.bytes.length) this.bad(`central directory entry ${i} runs past the end of the file`);
      const name = Buffer.from(this.bytes.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
      // zip64 extended information: only the fields whose 32-bit value is saturated are present, in this order.
      let q = p + 46 + nameLen;
      const extraEnd = q + extraLen;
      while (q + 4 <= extraEnd) {
        const id = this.view.getUint16(q, true);
        const size = this.view.getUint16(q + 2, true);
        if (q + 4 + size > extraEnd) this.bad(`extra field of ${name} is damaged`);
        if (id === 0x0001) {
          let r = q + 4;
          const take = (): number => {
            if (r + 8 > q + 4 + size) this.bad(`zip64 field of ${name} is short`);
            const v = u64(this.view, r);
            r += 8;
            return v;
          };
          if (uncompressedSize === 0xffffffff) uncompressedSize = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
        }
        q += 4 + size;
      }
      if (this.entries.has(name)) this.bad(`duplicate entry ${escapeText(name, 200)}`);
      // Bit 0: encrypted; bit 6: strong encryption. torch.load cannot read them either.
      if (flags & 0x41) this.bad(`entry ${escapeText(name, 200)} is encrypted`);
      this.entries.set(name, { name, method, flags, crc32, compressedSize, uncompressedSize, localHeaderOffset, dataStart: 0 });
      p = end;
    }
    this.checkLocalHeaders(cdOffset);
  }

  /** Every local header agrees with the central directory, and no two entries' bytes overlap. */
  private checkLocalHeaders(cdOffset: number): void {
    const spans: [number, number, string][] = [];
    for (const e of this.entries.values()) {
      const h = e.localHeaderOffset;
      const shown = escapeText(e.name, 200);
      if (h + 30 > this.bytes.length || this.view.getUint32(h, true) !== SIG_LOCAL) this.bad(`local header of ${shown} is damaged`);
      const flags = this.view.getUint16(h + 6, true);
      const method = this.view.getUint16(h + 8, true);
      const nameLen = this.view.getUint16(h + 26, true);
      if (flags & 0x41) this.bad(`entry ${shown} is encrypted`);
      if (method !== e.method) this.bad(`local header of ${shown} names compression method ${method}, the central directory ${e.method}`);
      if (Buffer.compare(Buffer.from(this.bytes.subarray(h + 30, h + 30 + nameLen)), Buffer.from(e.name, 'utf8')) !== 0) {
        this.bad(`local header of ${shown} names another entry`);
      }
      if (!(flags & 0x08)) {
        const cs = this.view.getUint32(h + 18, true);
        const us = this.view.getUint32(h + 22, true);
        if ((cs !== 0xffffffff && cs !== e.compressedSize) || (us !== 0xffffffff && us !== e.uncompressedSize)) {
          this.bad(`local header of ${shown} declares other sizes than the central directory`);
        }
      }
      // The local header's extra length may differ from the central directory's (torch pads the local
      // extra field so that tensor data is 64-byte aligned), so it is read here.
      e.dataStart = h + 30 + nameLen + this.view.getUint16(h + 28, true);
      const end = e.dataStart + e.compressedSize;
      if (end > this.bytes.length) this.bad(`entry ${shown} runs past the end of the file (truncated?)`);
      if (end > cdOffset) this.bad(`entry ${shown} overlaps the central directory`);
      spans.push([h, end, shown]);
    }
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i]![0] < spans[i - 1]![1]) this.bad(`entries ${spans[i - 1]![2]} and ${spans[i]![2]} overlap`);
    }
  }

  /** The bytes of an entry; a view into the file for stored entries (no copy); inflated once. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) fail('format', `${this.label}: archive has no entry ${escapeText(name, 200)}`);
    const shown = escapeText(name, 200);
    const cached = this.inflated.get(name);
    if (cached) return cached;
    const raw = this.bytes.subarray(e.dataStart, e.dataStart + e.compressedSize);
    let out: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.uncompressedSize) this.bad(`stored entry ${shown} has inconsistent sizes`);
      out = raw;
    } else if (e.method === 8) {
      // Bound the output by the declared size so a zip bomb cannot allocate more than it says, and the
      // archive's inflated bytes in all, so many entries (or views of one) cannot add up to gigabytes.
      if (e.uncompressedSize > e.compressedSize * LIMITS.zipInflateRatio + 1024) {
        fail('security', `${this.label}: entry ${shown} declares ${e.uncompressedSize} bytes from ${e.compressedSize} compressed (a zip bomb?)`);
      }
      if (this.inflatedBytes + e.uncompressedSize > LIMITS.zipInflatedBytes) {
        fail('security', `${this.label}: inflating ${shown} would take the archive past ${LIMITS.zipInflatedBytes} inflated bytes (--budget zip-inflated-bytes)`);
      }
      this.inflatedBytes += e.uncompressedSize;
      try {
        out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.uncompressedSize) });
      } catch (err) {
        return this.bad(`entry ${shown} does not inflate: ${(err as Error).message}`);
      }
      if (out.length !== e.uncompressedSize) this.bad(`entry ${shown} inflates to ${out.length} bytes, ${e.uncompressedSize} declared`);
      this.inflated.set(name, out);
    } else {
      return this.bad(`entry ${shown} uses compression method ${e.method}, which is not supported`);
    }
    if (!this.checked.has(name)) {
      if (crc32(out) !== e.crc32) this.bad(`entry ${shown} fails its CRC-32 check (damaged)`);
      this.checked.add(name);
    }
    return out;
  }
}

/** CRC-32 (zlib's, native where Node has it). */
const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1; t[n] = c >>> 0; }
  return t;
})();
function crc32(b: Uint8Array): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) return native(b) >>> 0;
  let c = ~0;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
