import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The process-wide bound on open segment log files (`log.max.open.files`): segments open their
/// log file on demand through their ``SegmentHandle`` and the cache closes the least recently used
/// ones past its budget, so descriptors scale with the segments in use, not with the partitions.
///
/// Eviction is the CLOCK approximation of LRU: a use only sets its handle's `referenced` bit
/// (no lock of the cache, no system call), and the hand that looks for a victim gives every
/// referenced handle a second chance. The cache's lock is taken only when a file is opened
/// (admitted) and evicted; a victim's file is dropped after that lock is released.
///
/// The budget bounds the files the cache keeps; a file evicted while a read, flush or `sendfile`
/// still holds it stays open until that ends, so the process may briefly hold a few more (the
/// gauge counts every open segment descriptor).
final class SegmentFileCache: Sendable {
    /// The cache of every log in the process.
    static let shared = SegmentFileCache(budget: defaultBudget())

    private struct Entry {
        weak var handle: SegmentHandle?
        var generation: UInt64
    }

    private struct State: Sendable {
        var entries: [Entry] = []
        var hand = 0
        var budget: Int
    }

    private let state: Mutex<State>
    /// Files the cache holds (admitted and not yet evicted or released).
    private let held = Atomic<Int>(0)

    init(budget: Int) {
        state = Mutex(State(budget: max(budget, 1)))
    }

    /// The most files the cache keeps open.
    var budget: Int {
        get { state.withLock { $0.budget } }
        set {
            state.withLock { $0.budget = max(newValue, 1) }
            evictPastBudget()
        }
    }

    /// The most segment descriptors open at once, cached or held by reads, flushes and
    /// responses in flight: the budget plus a quarter (at least 8). Reopening an evicted file
    /// past it fails (`descriptorsExhausted`) instead of spending descriptors the rest of the
    /// process needs: without it a single fetch across hundreds of partitions pinned one file
    /// per segment read, ran the process out of descriptors and libdispatch killed it.
    var openLimit: Int {
        let budget = self.budget
        return budget + max(8, budget / 4)
    }

    /// Files the cache holds now.
    var count: Int { held.load(ordering: .relaxed) }

    /// The default budget: half the soft `RLIMIT_NOFILE` (the rest is for connections, the
    /// metadata log, index and checkpoint writes), at least 16.
    static func defaultBudget() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 512 }
        // RLIM_INFINITY is all ones; clamp it with everything else.
        let soft = min(UInt64(limit.rlim_cur), 1 << 30)
        return max(16, Int(soft) / 2)
    }

    /// Takes in a file `handle` has just opened, as its admission `generation`, evicting others
    /// past the budget.
    func admit(_ handle: SegmentHandle, generation: UInt64) {
        held.add(1, ordering: .relaxed)
        let victims = state.withLock { state -> [(SegmentHandle, UInt64)] in
            state.entries.append(Entry(handle: handle, generation: generation))
            return Self.chooseVictims(&state, held: held.load(ordering: .relaxed))
        }
        for (victim, generation) in victims { victim.evict(generation: generation) }
    }

    /// A handle let go of a file it held (evicted, retired or deallocated).
    func released() {
        held.subtract(1, ordering: .relaxed)
    }

    private func evictPastBudget() {
        let victims = state.withLock { Self.chooseVictims(&$0, held: held.load(ordering: .relaxed)) }
        for (victim, generation) in victims { victim.evict(generation: generation) }
    }

    /// Moves the clock hand until `held` minus the victims chosen fits the budget: stale entries
    /// (a handle gone, or holding another admission) are dropped, referenced ones get their bit
    /// cleared, the first unreferenced one is a victim. Two turns of the clock at most.
    private static func chooseVictims(_ state: inout State, held: Int) -> [(SegmentHandle, UInt64)] {
        var victims: [(SegmentHandle, UInt64)] = []
        var excess = held - state.budget
        var steps = 0
        let maxSteps = 2 * state.entries.count + 2
        while excess > 0 && !state.entries.isEmpty && steps < maxSteps {
            steps += 1
            if state.hand >= state.entries.count { state.hand = 0 }
            let entry = state.entries[state.hand]
            guard let handle = entry.handle, handle.cachedGeneration.load(ordering: .acquiring) == entry.generation
            else {
                state.entries.swapAt(state.hand, state.entries.count - 1)
                state.entries.removeLast()
                continue
            }
            if handle.referenced.exchange(false, ordering: .relaxed) {
                state.hand += 1
                continue
            }
            victims.append((handle, entry.generation))
            state.entries.swapAt(state.hand, state.entries.count - 1)
            state.entries.removeLast()
            excess -= 1
        }
        // Entries of released files stay until the hand passes them; sweep them when they
        // outnumber the live ones, so the list stays proportional to the files held.
        if state.entries.count > 2 * max(held, 64) {
            state.entries.removeAll { entry in
                guard let handle = entry.handle else { return true }
                return handle.cachedGeneration.load(ordering: .acquiring) != entry.generation
            }
            state.hand = 0
        }
        return victims
    }
}
