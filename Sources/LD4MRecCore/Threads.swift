import CLD4MRecKernels
import Synchronization

/// How many threads a call may use: a per-call request (0: the process default), the
/// process default (0: one per core), both bounded by the cores.
public enum Threads {
    /// The cores this process may run on.
    public static let cores = Int(ld4mrk_available_cores())

    private static let defaultSetting = Atomic<Int>(0)

    /// The process default: n >= 1, or 0 for one per core.
    public static func setDefault(_ n: Int) throws {
        guard n >= 0 else { throw LD4MRecError.invalidArgument("the number of threads must be 0 (one per core) or more, got \(n)") }
        defaultSetting.store(n, ordering: .relaxed)
    }

    /// The process default, 0 resolved to the cores.
    public static var defaultCount: Int { resolve(0) }

    /// The threads a call asking for `requested` (0: the default) runs on.
    public static func resolve(_ requested: Int) -> Int {
        let n = requested > 0 ? requested : defaultSetting.load(ordering: .relaxed)
        return n > 0 ? min(n, cores) : cores
    }
}
