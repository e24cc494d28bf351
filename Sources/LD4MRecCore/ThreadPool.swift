import CLD4MRecKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The library's own threads. Every parallel piece of work (a request's layers, a batch,
/// a training step) runs as a team: the calling thread plus the pool workers that are
/// idle when it starts, each member taking its share of rows, with barriers between
/// dependent steps. A team never waits for a busy worker: when other calls hold the
/// workers it runs with fewer members, so concurrent callers cannot oversubscribe the
/// cores. BLAS kernels run single-threaded inside each member (see `BLAS`).
package final class ThreadPool: @unchecked Sendable {
    package static let shared = ThreadPool(workers: Threads.cores - 1)

    private let workers: [Worker]

    private init(workers count: Int) {
        workers = (0 ..< max(0, count)).map { _ in Worker() }
        // A child of fork() has none of the parent's threads: its teams run on the
        // calling thread alone.
        pthread_atfork(nil, nil) { inForkedChild.store(true, ordering: .relaxed) }
    }

    /// Runs `body` on a team of at most `threads` members (the caller is rank 0) and
    /// returns when every member has finished.
    package func run(threads: Int, _ body: (Team) -> Void) {
        var claimed: [Worker] = []
        if threads > 1, !inForkedChild.load(ordering: .relaxed) {
            for worker in workers where worker.claim() {
                claimed.append(worker)
                if claimed.count == threads - 1 { break }
            }
        }
        guard !claimed.isEmpty else {
            body(Team(rank: 0, size: 1, sync: nil))
            return
        }
        withoutActuallyEscaping(body) { body in
            // The job holds the body unretained: once every member has finished, nothing
            // refers to it, as withoutActuallyEscaping requires.
            let box = BodyBox(body)
            withExtendedLifetime(box) {
                let job = Job(size: claimed.count + 1, body: Unmanaged.passUnretained(box))
                for (i, worker) in claimed.enumerated() { worker.start(job, rank: i + 1) }
                box.body(Team(rank: 0, size: job.size, sync: job))
                job.waitForOthers()
            }
        }
    }
}

private let inForkedChild = Atomic<Bool>(false)

/// A member's view of its team.
package struct Team {
    package let rank: Int
    package let size: Int
    fileprivate let sync: Job?

    /// Returns when every member of the team has reached this barrier.
    package func barrier() { sync?.barrier() }

    /// A team of one, for work a member does alone.
    package static var alone: Team { Team(rank: 0, size: 1, sync: nil) }

    /// This member's share of `count` rows: contiguous, in rank order, sizes differing by
    /// at most one (rounded to multiples of `granule` where possible).
    package func share(of count: Int, granule: Int = 1) -> Range<Int> {
        let units = (count + granule - 1) / granule
        let (q, r) = units.quotientAndRemainder(dividingBy: size)
        let start = rank * q + min(rank, r)
        let end = start + q + (rank < r ? 1 : 0)
        return min(count, start * granule) ..< min(count, end * granule)
    }
}

private final class BodyBox {
    let body: (Team) -> Void
    init(_ body: @escaping (Team) -> Void) { self.body = body }
}

/// One `run`: the body, the barrier and the count of members that have finished.
private final class Job: @unchecked Sendable {
    let size: Int
    let body: Unmanaged<BodyBox>
    private let arrived = Atomic<Int>(0)
    private let generation = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)

    init(size: Int, body: Unmanaged<BodyBox>) {
        self.size = size
        self.body = body
    }

    func barrier() {
        let current = generation.load(ordering: .acquiring)
        if arrived.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == size {
            arrived.store(0, ordering: .relaxed)
            generation.wrappingAdd(1, ordering: .releasing)
        } else {
            spin { generation.load(ordering: .acquiring) != current }
        }
    }

    func memberFinished() { finished.wrappingAdd(1, ordering: .releasing) }

    func waitForOthers() { spin { finished.load(ordering: .acquiring) == size - 1 } }
}

/// `count` units of work that any thread may claim, each once, in order: members that
/// finish their own work take over the units another has not reached, so a member slowed
/// by the host (the two vCPUs of a shared machine often differ by 1.5x) does not hold up
/// the rest.
package final class SharedUnits: @unchecked Sendable {
    package let count: Int
    private let next = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)

    package init(count: Int) { self.count = count }

    /// The next unclaimed unit, or nil when every unit is claimed.
    package func claim() -> Int? {
        guard next.load(ordering: .relaxed) < count else { return nil }
        let unit = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return unit < count ? unit : nil
    }

    /// Marks a claimed unit done: what it wrote is visible after `waitForAll`.
    package func finish() { finished.wrappingAdd(1, ordering: .releasing) }

    /// Returns once every unit is done.
    package func waitForAll() { spin { finished.load(ordering: .acquiring) == count } }
}

/// A one-way signal: what a thread wrote before `open` is visible to the threads that
/// return from `wait`.
package final class Signal: @unchecked Sendable {
    private let isOpen = Atomic<Bool>(false)

    package init() {}

    package func open() { isOpen.store(true, ordering: .releasing) }

    package func wait() { spin { isOpen.load(ordering: .acquiring) } }
}

/// Busy-waits for `condition`, yielding the core after a while (the member it waits for
/// may have been descheduled).
private func spin(until condition: () -> Bool) {
    var spins = 0
    while !condition() {
        spins += 1
        if spins < 20_000 { ld4mrk_cpu_relax() } else { sched_yield() }
    }
}

/// A pool thread: sleeps until a team claims it, runs its member's share, goes idle.
private final class Worker: @unchecked Sendable {
    private let busy = Atomic<Bool>(false)
    /// Set with `assignment`, so that a spinning worker sees work without the mutex.
    private let pending = Atomic<Bool>(false)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Guarded by `mutex`.
    private var assignment: (job: Job, rank: Int)?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()  // workers live as long as the process
        pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<Worker>.fromOpaque(context).takeUnretainedValue().loop()
        }, context)
        pthread_detach(thread)
    }

    /// Takes the worker for a team if it is idle.
    func claim() -> Bool {
        busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    func start(_ job: Job, rank: Int) {
        pthread_mutex_lock(mutex)
        assignment = (job, rank)
        pending.store(true, ordering: .releasing)
        pthread_cond_signal(wake)
        pthread_mutex_unlock(mutex)
    }

    /// After a job, a worker watches for the next one for this long before it sleeps:
    /// requests arrive back to back under load, and waking a sleeping thread costs tens
    /// of microseconds, a good part of a single user's request.
    private static let spinSeconds = 100e-6

    private func loop() -> Never {
        while true {
            let until = monotonicSeconds() + Self.spinSeconds
            var spins = 0
            while !pending.load(ordering: .acquiring) {
                spins += 1
                if spins % 64 == 0, monotonicSeconds() > until { break }
                ld4mrk_cpu_relax()
            }
            pthread_mutex_lock(mutex)
            var next = assignment
            while next == nil {
                pthread_cond_wait(wake, mutex)
                next = assignment
            }
            assignment = nil
            pending.store(false, ordering: .relaxed)
            pthread_mutex_unlock(mutex)
            guard let (job, rank) = next else { continue }
            job.body.takeUnretainedValue().body(Team(rank: rank, size: job.size, sync: job))
            busy.store(false, ordering: .releasing)
            job.memberFinished()
        }
    }
}
