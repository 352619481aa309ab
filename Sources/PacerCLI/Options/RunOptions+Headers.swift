import ArgumentParser
import Foundation
import PacerHTTP

extension RunOptions {
    /// The `--header` flags as fields, a later flag for the same name winning.
    var headerFields: [String: String] {
        var fields: [String: String] = [:]
        for header in headers {
            if let (name, value) = Self.parse(header) { fields[name] = value }
        }
        return fields
    }

    /// Checks one `--header` at startup: a header AsyncHTTPClient refuses would otherwise fail
    /// every item, and a mistake is cheapest to fix before the batch starts. The value is never
    /// quoted back: it is often a key.
    static func check(_ header: String) throws(ValidationError) {
        guard let (name, value) = parse(header) else {
            throw ValidationError("--header must look like 'Name: value'; one has no name before a ':'")
        }
        guard HTTPHeaderName.isValid(name) else {
            throw ValidationError(
                "--header '\(name): …' has an invalid name: use letters, digits and \(HTTPHeaderName.allowedSymbols) only (no spaces), e.g. 'X-Api-Key: …'"
            )
        }
        guard HTTPHeaderName.isValidValue(value) else {
            throw ValidationError("--header '\(name): …' has a control character or line break in its value")
        }
    }

    static func parse(_ header: String) -> (String, String)? {
        guard let colon = header.firstIndex(of: ":") else { return nil }
        let name = header[..<colon].trimmingCharacters(in: .whitespaces)
        let value = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? nil : (name, value)
    }
}
