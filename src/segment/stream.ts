/**
 * Streams many images through a FrameRunner with bounded memory: the next images are decoded (in
 * libvips' threads) while the current one runs, and results are encoded and written behind it, with
 * at most a few frames held at any time.
 */
import { processingSize, type FrameInput, type FrameRunner, type Labels } from './frame.js';

export interface StreamOptions<I, D extends FrameInput> {
  items: readonly I[];
  /** Reads and decodes one item (runs ahead of inference). */
  decode(item: I): Promise<D>;
  /**
   * Consumes one frame's labels: the synchronous part runs on the pipeline's path; a returned promise
   * (e.g. PNG encoding and writing) runs behind the next frames. The labels buffer is given back to the
   * runner when it settles.
   */
  sink(item: I, decoded: D, labels: Labels): Promise<void> | void;
  /** Frames per inference, of one processing size (default 1). */
  batch?: number;
  /** Decoded frames held ahead of inference (default batch + 1). */
  ahead?: number;
  /** Sinks in flight at once (default 2). */
  maxSinks?: number;
  /** Called as each frame is done (after its sink settles). */
  done?(item: I): void;
}

/**
 * Runs every item. Stage times land in `runner.times`, as each stage costs the pipeline: preprocess,
 * inference and postprocess on its path; decode and encode run beside inference, so what counts is
 * the time the pipeline waits for them (plus the synchronous part of the sink, counted as encode).
 */
export async function streamFrames<I, D extends FrameInput>(runner: FrameRunner, o: StreamOptions<I, D>): Promise<void> {
  const batch = Math.max(1, o.batch ?? 1);
  const ahead = Math.max(batch + 1, o.ahead ?? batch + 1);
  const maxSinks = Math.max(1, o.maxSinks ?? 2);
  const pre = runner.model.info.pre;
  const times = runner.times;
  const queue: { item: I; p: Promise<D> }[] = [];
  let next = 0;
  const fill = (): void => {
    while (queue.length < ahead && next < o.items.length) {
      const item = o.items[next++]!;
      const p = o.decode(item);
      p.catch(() => { /* awaited in order below; this only keeps an early failure from being "unhandled" */ });
      queue.push({ item, p });
    }
  };
  const take = async (): Promise<{ item: I; d: D }> => {
    const q = queue.shift()!;
    const t = performance.now();
    const d = await q.p;
    times.decode += performance.now() - t;
    fill();
    return { item: q.item, d };
  };
  const inFlight = new Set<Promise<void>>();
  let sinkError: { e: unknown } | null = null;
  const drainTo = async (n: number): Promise<void> => {
    const t = performance.now();
    while (inFlight.size > n) await Promise.race(inFlight);
    times.encode += performance.now() - t;
    if (sinkError) throw sinkError.e;
  };

  try {
    await loop();
  } catch (e) {
    // Let writes already started finish (or fail) before the caller cleans up behind them.
    await Promise.allSettled([...inFlight]);
    throw e;
  }

  async function loop(): Promise<void> {
    fill();
    while (queue.length) {
      const group = [await take()];
      const size = processingSize(group[0]!.d.image.width, group[0]!.d.image.height, pre);
      while (group.length < batch && queue.length) {
        // Batch only frames of the same processing size; a different one starts the next batch.
        const peek = await queue[0]!.p;
        const s = processingSize(peek.image.width, peek.image.height, pre);
        if (s.W !== size.W || s.H !== size.H) break;
        group.push(await take());
      }
      const labels = await runner.run(group.map((g) => g.d));
      for (let i = 0; i < group.length; i++) {
        const { item, d } = group[i]!;
        const lab = labels[i]!;
        const t = performance.now();
        let result: Promise<void> | void;
        try {
          result = o.sink(item, d, lab);
        } catch (e) {
          runner.release(lab);
          throw e;
        } finally {
          times.encode += performance.now() - t;
        }
        const settled: Promise<void> = Promise.resolve(result)
          .then(() => { o.done?.(item); }, (e: unknown) => { sinkError ??= { e }; })
          .finally(() => { runner.release(lab); inFlight.delete(settled); });
        inFlight.add(settled);
        await drainTo(maxSinks - 1);
      }
    }
    await drainTo(0);
  }
}
