import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on a run's output (and errors) file for as long as the run writes it, so
/// that two runs never continue one journal at once: the second would send every item the
/// first has not finished again, and its journal repair could cut a line the first is writing.
///
/// The lock is `flock(2)`'s, on an open file description of its own: reading or compacting the
/// journal through other descriptors leaves it held, and the kernel drops it when the process
/// ends, however it ends, so a killed run never leaves a file locked.
package final class OutputLock: Sendable {
    private let descriptors: [Int32]

    /// Locks each of `paths` (creating a missing file empty).
    ///
    /// - Throws: ``InputError`` naming the file and, where the system tells, the process that
    ///   holds it.
    package init(paths: [String]) throws(InputError) {
        var descriptors: [Int32] = []
        for path in paths {
            let descriptor = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                for held in descriptors { close(held) }
                throw InputError(file: path, message: "cannot open for writing: \(String(cString: strerror(errno)))")
            }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                let holder = Self.holder(of: descriptor)
                close(descriptor)
                for held in descriptors { close(held) }
                throw InputError(
                    file: path,
                    message: "in use by \(holder.map { "pid \($0)" } ?? "another process"): another pacer run writes "
                        + "this file; let it finish (or stop it), or write to another file"
                )
            }
            descriptors.append(descriptor)
        }
        self.descriptors = descriptors
    }

    deinit {
        for descriptor in descriptors { close(descriptor) }
    }

    /// The process holding a `flock` on `descriptor`'s file, from Linux's `/proc/locks`
    /// (`1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF`); `nil` where that is not known.
    package static func holder(of descriptor: Int32) -> Int? {
        var status = stat()
        guard fstat(descriptor, &status) == 0,
            let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8)
        else { return nil }
        let inode = String(status.st_ino)
        for line in table.split(separator: "\n") where !line.contains("->") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK",
                fields[5].split(separator: ":").last.map(String.init) == inode
            else { continue }
            return Int(fields[4])
        }
        return nil
    }
}
