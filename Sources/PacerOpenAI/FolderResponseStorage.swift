import Foundation
import PacerCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``ResponseCache``'s entries in a folder (`--cache DIR`), one file each, shared by the
/// processes of one machine.
///
/// **Bounded, oldest out first**: entries are written into generations (`DIR/g000001/ab/…`),
/// a new one begun when the newest passes an eighth of the bound; when the whole passes the
/// bound the oldest generation is deleted. A lookup tries each generation, newest first.
/// Memory holds the byte count of each generation, never an index of entries: it does not
/// grow with the cache.
///
/// **Safe to share**: each entry is written under a temporary name and renamed, so processes
/// sharing the folder read whole entries or none.
public final class FolderResponseStorage: ResponseStorage {
    /// The folder.
    public let directory: String
    /// The most bytes kept.
    public let maxBytes: Int64
    private let state: Mutex<State>

    private struct State {
        /// Every generation's number and bytes, oldest first.
        var generations: [(number: Int, bytes: Int64)]
        var temporaries = 0
    }

    /// Opens (creating) the folder `directory`, sizing its generations, to hold at most
    /// `maxBytes`.
    ///
    /// - Throws: An error naming the folder when it cannot be created or read.
    public init(directory: String, maxBytes: Int64 = 1 << 30) throws {
        self.directory = directory
        self.maxBytes = maxBytes
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var generations: [(number: Int, bytes: Int64)] = []
        for name in try manager.contentsOfDirectory(atPath: directory) {
            guard name.hasPrefix("g"), let number = Int(name.dropFirst()) else { continue }
            generations.append((number, Self.bytes(under: directory + "/" + name)))
        }
        generations.sort { $0.number < $1.number }
        if generations.isEmpty { generations = [(1, 0)] }
        state = Mutex(State(generations: generations))
    }

    /// The entry's bytes in the newest generation that has it.
    public func value(for key: String) async -> [UInt8]? {
        let generations = state.withLock { $0.generations.map(\.number).reversed() }
        for generation in generations {
            if let data = FileManager.default.contents(atPath: path(of: key, in: generation)) { return Array(data) }
        }
        return nil
    }

    /// Writes the entry into the newest generation, and deletes the oldest generations while
    /// the whole is over the bound.
    public func store(_ value: [UInt8], for key: String) async -> Int? {
        let (generation, temporary) = state.withLock { state -> (Int, Int) in
            state.temporaries += 1
            return (state.generations[state.generations.count - 1].number, state.temporaries)
        }
        let target = path(of: key, in: generation)
        let folder = (target as NSString).deletingLastPathComponent
        let scratch = "\(folder)/.\(key).\(getpid()).\(temporary)"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(value).write(to: URL(fileURLWithPath: scratch))
            guard rename(scratch, target) == 0 else {
                unlink(scratch)
                return nil
            }
        } catch {
            unlink(scratch)
            return nil
        }
        let doomed = state.withLock { state -> [Int] in
            state.generations[state.generations.count - 1].bytes += Int64(value.count)
            if state.generations[state.generations.count - 1].bytes > maxBytes / 8 {
                state.generations.append((generation + 1, 0))
            }
            var doomed: [Int] = []
            while state.generations.count > 1, state.generations.reduce(0, { $0 + $1.bytes }) > maxBytes {
                doomed.append(state.generations.removeFirst().number)
            }
            return doomed
        }
        for generation in doomed {
            try? FileManager.default.removeItem(atPath: directory + "/" + Self.name(of: generation))
        }
        return doomed.count
    }

    /// The bytes the folder's generations hold, as this process counted them.
    public var bytes: Int64 { state.withLock { $0.generations.reduce(0) { $0 + $1.bytes } } }

    private func path(of key: String, in generation: Int) -> String {
        "\(directory)/\(Self.name(of: generation))/\(key.prefix(2))/\(key)"
    }

    private static func name(of generation: Int) -> String {
        let digits = String(generation)
        return "g" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// The bytes of the files under `folder`, read with `readdir` and `stat`: a cache of a
    /// hundred thousand answers is sized in a fraction of a second (Foundation's enumerator
    /// with resource values took seconds).
    private static func bytes(under folder: String) -> Int64 {
        guard let directory = opendir(folder) else { return 0 }
        defer { closedir(directory) }
        var total: Int64 = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != ".", name != ".." else { continue }
            let path = folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                total += bytes(under: path)
            } else if (info.st_mode & S_IFMT) == S_IFREG {
                total += Int64(info.st_size)
            }
        }
        return total
    }
}
