/**
 * Bounded capture of a child's stdout or stderr: keeps the first and the last `keepBytes` bytes
 * and counts the rest, so a flood costs the parent a fixed amount of memory.
 */
export class OutputTap {
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  /** Every byte seen, kept or not. */
  total = 0;
  private readonly keepBytes: number;

  constructor(keepBytes: number) {
    this.keepBytes = keepBytes;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.headBytes < this.keepBytes) {
      const take = chunk.subarray(0, this.keepBytes - this.headBytes);
      this.head.push(Buffer.from(take));
      this.headBytes += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (!chunk.length) return;
    this.tail.push(Buffer.from(chunk.subarray(Math.max(0, chunk.length - this.keepBytes))));
    this.tailBytes += Math.min(chunk.length, this.keepBytes);
    while (this.tail.length > 1 && this.tailBytes - this.tail[0].length >= this.keepBytes) {
      this.tailBytes -= this.tail.shift()!.length;
    }
  }

  /** True when bytes between the head and the tail were dropped. */
  get truncated(): boolean {
    return this.total > this.headBytes + Math.min(this.tailBytes, this.keepBytes);
  }

  /** The kept text, with a marker where bytes were dropped. */
  text(): string {
    const head = Buffer.concat(this.head).toString('utf8');
    let tail = Buffer.concat(this.tail);
    if (tail.length > this.keepBytes) tail = tail.subarray(tail.length - this.keepBytes);
    const dropped = this.total - this.headBytes - tail.length;
    return dropped > 0 ? `${head}\n[... ${dropped} bytes dropped ...]\n${tail.toString('utf8')}` : head + tail.toString('utf8');
  }
}
