#if canImport(Glibc)
import Glibc
#endif

/// A pthread reader-writer lock: many concurrent readers or one writer. (Not
/// Synchronization.Mutex: its futex path is invisible to ThreadSanitizer, which then
/// reports false races.)
package final class ReadWriteLock: @unchecked Sendable {
    private let rwlock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    package init() { pthread_rwlock_init(rwlock, nil) }

    deinit {
        pthread_rwlock_destroy(rwlock)
        rwlock.deallocate()
    }

    package func withReadLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(rwlock)
        defer { pthread_rwlock_unlock(rwlock) }
        return try body()
    }

    package func withWriteLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(rwlock)
        defer { pthread_rwlock_unlock(rwlock) }
        return try body()
    }
}
