import { PartitionProgress, Turn, Turns } from './kafka-partition-progress';

function gate() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('PartitionProgress', () => {
  it('counts a message handled only once every earlier one was, and bounds those running', async () => {
    const handled: string[] = [];
    const progress = new PartitionProgress(2, (offset) => handled.push(offset));
    const [a, b, c] = [gate(), gate(), gate()];
    expect(progress.room()).toBeUndefined();
    progress.add('10', a.promise);
    progress.add('11', b.promise);
    const room = progress.room();
    expect(room).toBeInstanceOf(Promise);
    b.resolve();
    await room;
    expect(handled).toEqual([]); // 11 waits for 10
    progress.add('12', c.promise);
    a.resolve();
    await turn();
    expect(handled).toEqual(['11']);
    c.resolve();
    await progress.settled();
    expect(handled).toEqual(['11', '12']);
    expect(progress.lastHandled).toBe('12');
    expect(progress.firstUnhandled()).toBeUndefined();
    expect(progress.failed).toBe(false);
  });

  it('after a failure names the first message not handled, and counts nothing past it', async () => {
    const handled: string[] = [];
    const settled: string[] = [];
    const progress = new PartitionProgress(5, (offset) => handled.push(offset));
    const failure = new Error('no');
    progress.add('0', Promise.resolve(), { issued: () => settled.push('0') });
    progress.add('1', Promise.reject(failure), { issued: () => settled.push('1') });
    progress.add('2', Promise.resolve(), { issued: () => settled.push('2') });
    await progress.settled();
    expect(progress.failed).toBe(true);
    expect(handled).toEqual(['0']);
    expect(progress.firstUnhandled()).toEqual({ offset: '1', error: failure });
    expect(settled.sort()).toEqual(['0', '1', '2']);
  });
});

describe('Turns', () => {
  it('lets a message send once every earlier one issued, with a promise only for one that waits', async () => {
    const turns = new Turns(4);
    const [a, b, c, d] = [0, 1, 2, 3].map((i) => new Turn(turns, i));
    expect(a.previous()).toBeUndefined();
    const cMay = c.previous()!;
    const dMay = d.previous()!;
    let cGoes = false;
    void cMay.then(() => (cGoes = true));
    // Issued out of order: c still waits for b.
    c.issued();
    a.issued();
    expect(b.previous()).toBeUndefined();
    await Promise.resolve();
    expect(cGoes).toBe(false);
    b.issued();
    b.issued(); // again, as when its handler settles: no effect
    await cMay;
    // c issued before its turn came: d's turn comes with b's.
    await dMay;
    expect(d.previous()).toBeUndefined();
  });
});
