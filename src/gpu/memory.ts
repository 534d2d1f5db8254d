/**
 * Device memory held by the project's own buffers on one GPU context: bytes live now, and the
 * peak inside any open window. Every buffer is created through GpuContext.createBuffer, which adds
 * its size here and takes it off on its first destroy(). On a discrete GPU this is the device
 * memory the index and its batches take (the driver's own overhead not counted); on a software
 * adapter the same bytes sit in host memory and show up in the resident set too.
 */
export interface DeviceWindow {
  /** Bytes live when the window opened. */
  startBytes: number;
  /** Highest live bytes while it was open. */
  peakBytes: number;
}

export class GpuMemory {
  #live = 0;
  #windows = new Set<DeviceWindow>();

  get liveBytes(): number {
    return this.#live;
  }

  allocated(bytes: number): void {
    this.#live += bytes;
    for (const w of this.#windows) if (this.#live > w.peakBytes) w.peakBytes = this.#live;
  }

  released(bytes: number): void {
    this.#live -= bytes;
  }

  /** Opens a window; `stop()` closes it and returns its start and peak. */
  window(): { stop(): DeviceWindow } {
    const w: DeviceWindow = { startBytes: this.#live, peakBytes: this.#live };
    this.#windows.add(w);
    return {
      stop: () => {
        this.#windows.delete(w);
        return { ...w };
      },
    };
  }

  /** `buffer`, counted until its first destroy(). */
  track(buffer: GPUBuffer, bytes: number): GPUBuffer {
    this.allocated(bytes);
    const destroy = buffer.destroy.bind(buffer);
    let counted = true;
    Object.defineProperty(buffer, 'destroy', {
      configurable: true,
      value: () => {
        if (counted) {
          counted = false;
          this.released(bytes);
        }
        destroy();
      },
    });
    return buffer;
  }
}
