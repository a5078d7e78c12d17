/** One call waiting for its batch. */
interface Waiting<In, Out> {
  input: In;
  resolve: (output: Out) => void;
  reject: (error: unknown) => void;
}

/** How a `StatementBatcher` groups its calls. */
export interface StatementBatcherOptions<In> {
  /** Batches running at once; a call that comes while they all run waits for the next. */
  maxInFlight: number;
  /** Most calls in one batch. */
  maxBatch: number;
  /**
   * Calls with the same key never share a batch, nor run while another batch holds their key:
   * the later one goes in a batch that starts after the earlier one's ended, so that they
   * apply in the order they came.
   */
  key: (input: In) => string;
}

/**
 * Runs calls of one statement in batches (group commit): a call goes at once while fewer than
 * `maxInFlight` batches run, so a lone call waits for nothing; under load, the calls that come
 * while the batches run go together in the next one, as one statement and one commit. A batch
 * that fails is run again call by call, so that a call the statement cannot take (bad data, a
 * deadlock with another transaction) fails alone and the others are kept.
 */
export class StatementBatcher<In, Out> {
  private waiting: Waiting<In, Out>[] = [];
  private inFlight = 0;
  /** The keys of the calls in the batches running now. */
  private readonly running = new Set<string>();
  private scheduled = false;
  private drained: (() => void)[] = [];

  constructor(
    /** Runs one batch: an output for every input, in the same order. */
    private readonly runBatch: (inputs: In[]) => Promise<Out[]>,
    private readonly options: StatementBatcherOptions<In>,
  ) {}

  run(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      // Calls made in the same turn go in the same batch.
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  /** Resolves once no call is waiting or running. */
  drain(): Promise<void> {
    if (this.inFlight === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private flush() {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch = this.take();
      // All that waits is held by a running batch: the next one starts when that one ends.
      if (batch.length === 0) break;
      void this.send(batch);
    }
    if (this.inFlight === 0 && this.waiting.length === 0) {
      for (const resolve of this.drained.splice(0)) resolve();
    }
  }

  /**
   * The next batch: the oldest calls, at most one per key and none of a running batch's keys,
   * in the order they came. A call passed over keeps its place: a later call of its key waits too.
   */
  private take(): Waiting<In, Out>[] {
    const batch: Waiting<In, Out>[] = [];
    const later: Waiting<In, Out>[] = [];
    const keys = new Set<string>();
    for (const call of this.waiting) {
      const key = this.options.key(call.input);
      if (batch.length < this.options.maxBatch && !keys.has(key) && !this.running.has(key)) {
        batch.push(call);
      } else {
        later.push(call);
      }
      keys.add(key);
    }
    this.waiting = later;
    return batch;
  }

  private async send(batch: Waiting<In, Out>[]) {
    const keys = batch.map((call) => this.options.key(call.input));
    for (const key of keys) this.running.add(key);
    this.inFlight++;
    try {
      const outputs = await this.runBatch(batch.map((call) => call.input));
      batch.forEach((call, i) => call.resolve(outputs[i]));
    } catch (error) {
      if (batch.length === 1) batch[0].reject(error);
      else await Promise.all(batch.map((call) => this.alone(call)));
    } finally {
      for (const key of keys) this.running.delete(key);
      this.inFlight--;
      this.flush();
    }
  }

  private async alone(call: Waiting<In, Out>) {
    try {
      const [output] = await this.runBatch([call.input]);
      call.resolve(output);
    } catch (error) {
      call.reject(error);
    }
  }
}
