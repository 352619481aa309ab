import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file or stdin in chunks without blocking Swift's cooperative threads: each
/// blocking `read(2)` runs on a dispatch queue of its own.
///
/// A pipe or terminal may have nothing to read for as long as its writer likes, so on those
/// the reader waits with `poll(2)` in slices of 100 ms and gives up when ``stop()`` is called
/// or the reading task is cancelled: Ctrl-C must not wait for the next line of stdin.
package final class FileReader: Sendable {
    /// The name used in messages: the path, or `<stdin>`.
    package let name: String
    /// The file's size in bytes when opened (0 for stdin and pipes).
    package let size: Int
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let queue = DispatchQueue(label: "pacer.input")
    private let isRegularFile: Bool
    private let stopped = Atomic<Bool>(false)

    /// Opens `path` for reading; `-` means stdin.
    package init(path: String) throws(InputError) {
        if path == "-" {
            self.name = "<stdin>"
            self.descriptor = STDIN_FILENO
            self.ownsDescriptor = false
            self.size = 0
            var info = stat()
            self.isRegularFile = fstat(STDIN_FILENO, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
            return
        }
        self.name = path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw InputError(file: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        if fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            close(descriptor)
            throw InputError(file: path, message: "is a directory, not an input file")
        }
        self.descriptor = descriptor
        self.ownsDescriptor = true
        self.isRegularFile = (info.st_mode & S_IFMT) == S_IFREG
        self.size = isRegularFile ? Int(info.st_size) : 0
    }

    /// Ends the input here: a read waiting for data returns at once, and every read after
    /// returns nothing. What was read but not yet a whole line is dropped (see ``isStopped``).
    package func stop() {
        stopped.store(true, ordering: .releasing)
    }

    /// Whether ``stop()`` was called (or a read was cancelled): an empty read then means
    /// "stopped", not the end of the input.
    package var isStopped: Bool { stopped.load(ordering: .acquiring) }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// The next chunk of at most `size` bytes; empty at the end of the input or once stopped.
    package func read(upTo size: Int = 64 * 1024) async throws(InputError) -> [UInt8] {
        let result: Result<[UInt8], InputError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                queue.async { continuation.resume(returning: self.blockingRead(upTo: size)) }
            }
        } onCancel: {
            stop()
        }
        return try result.get()
    }

    private func blockingRead(upTo size: Int) -> Result<[UInt8], InputError> {
        var buffer = [UInt8](repeating: 0, count: size)
        while true {
            if isStopped { return .success([]) }
            if !isRegularFile {
                var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let ready = poll(&request, 1, 100)
                if ready == 0 || (ready < 0 && errno == EINTR) { continue }
                // Readable, at its end, or an error: read(2) tells which.
            }
            let count = buffer.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, size) }
            if count >= 0 {
                buffer.removeSubrange(count...)
                return .success(buffer)
            }
            if errno == EINTR { continue }
            return .failure(InputError(file: name, message: "cannot read: \(String(cString: strerror(errno)))"))
        }
    }
}

@inline(__always)
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
