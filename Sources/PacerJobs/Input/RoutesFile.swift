import Foundation
import PacerJSON

/// A routes file (`--routes FILE`): the deployments one batch is spread over, in JSON.
///
/// ```json
/// {"deployments": [
///   {"name": "east", "base_url": "https://east.example.com/v1", "api_key_env": "EAST_KEY",
///    "rpm": 600, "concurrency": 16, "models": ["gpt-4o-mini"]},
///   {"name": "azure", "base_url": "https://NAME.openai.azure.com", "api_key_env": "AZURE_KEY",
///    "azure": true, "api_version": "2024-10-21",
///    "models": [{"name": "gpt-4o-mini", "as": "my-4o-mini"}]}
/// ]}
/// ```
///
/// JSON rather than TOML: it is the format of every other file Pacer reads (`--prices`,
/// Batch API lines), and the TOML package at hand (TOMLKit, over C++'s toml++) keeps no
/// line for a value it parsed, which the errors below name.
///
/// Every problem is an ``InputError`` naming the file and the line: an unknown key, a
/// missing or mistyped value, a duplicate name, a key's variable that is not set.
package struct RoutesFile: Sendable {
    /// One deployment.
    package struct Deployment: Sendable {
        /// Its name, unique in the file.
        package var name: String
        /// Its API root.
        package var baseURL: String
        /// The environment variable holding its key; `nil` sends none.
        package var apiKeyVariable: String?
        /// The key, read from ``apiKeyVariable``.
        package var apiKey: String?
        /// `openai` (the default) or `anthropic`.
        package var provider: String = "openai"
        /// Azure OpenAI (the key in `api-key`; with ``apiVersion``, deployment paths).
        package var azure = false
        /// Azure's `api-version`.
        package var apiVersion: String?
        /// Headers sent with each request.
        package var headers: [String: String] = [:]
        /// Its requests per minute; `nil` learns them.
        package var rpm: Double?
        /// Its tokens per minute; `nil` learns them.
        package var tpm: Double?
        /// Requests at once; `nil` is `auto`.
        package var concurrency: Int? = 8
        /// Its share of ties.
        package var weight: Double = 1
        /// Model the batch names → model the deployment knows.
        package var models: [String: String] = [:]
        /// The line its object starts on.
        package var line: Int
    }

    /// The deployments, in the file's order.
    package var deployments: [Deployment]
    /// Seconds a failed deployment stays out before its probe. Default 60.
    package var cooldownSeconds: Double = 60

    /// The models some deployment serves.
    package var models: Set<String> { Set(deployments.flatMap(\.models.keys)) }

    /// Reads and checks the routes file at `path`; keys are read from `environment`.
    ///
    /// - Throws: ``InputError`` naming the file and line of the first problem.
    package static func read(path: String, environment: [String: String]) throws(InputError) -> RoutesFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InputError(file: path, message: "cannot read the routes file")
        }
        let bytes = [UInt8](data)
        var lineStarts = [0]
        for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") { lineStarts.append(offset + 1) }
        func line(at offset: Int) -> Int {
            var low = 0
            var high = lineStarts.count - 1
            while low < high {
                let middle = (low + high + 1) / 2
                if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
            }
            return low + 1
        }
        var problem: InputError?
        var routes = RoutesFile(deployments: [])
        do {
            try bytes.withUnsafeBytes { raw in
                try JSONReader.read(raw) { reader throws(JSONParseError) in
                    try reader.members { reader, key throws(JSONParseError) in
                        let at = line(at: reader.offset)
                        switch key {
                        case "deployments":
                            try reader.elements { reader, _ throws(JSONParseError) in
                                let start = line(at: reader.offset)
                                var deployment = Deployment(name: "", baseURL: "", line: start)
                                try reader.members { reader, key throws(JSONParseError) in
                                    let at = line(at: reader.offset)
                                    let value = try reader.value()
                                    guard problem == nil else { return }
                                    do throws(InputError) {
                                        try deployment.set(key, value, file: path, line: at, environment: environment)
                                    } catch {
                                        problem = error
                                    }
                                }
                                guard problem == nil else { return }
                                if deployment.name.isEmpty || deployment.baseURL.isEmpty || deployment.models.isEmpty {
                                    problem = InputError(
                                        file: path,
                                        line: start,
                                        message: #"a deployment needs "name", "base_url" and "models""#
                                    )
                                } else if routes.deployments.contains(where: { $0.name == deployment.name }) {
                                    problem = InputError(
                                        file: path,
                                        line: start,
                                        message: "a second deployment named '\(deployment.name)'; names must be unique"
                                    )
                                }
                                routes.deployments.append(deployment)
                            }
                        case "cooldown_seconds":
                            let value = try reader.value()
                            guard case .number(let number) = value, let seconds = number.double, seconds > 0,
                                seconds <= 86_400
                            else {
                                problem =
                                    problem
                                    ?? InputError(
                                        file: path,
                                        line: at,
                                        message: #""cooldown_seconds" must be a number of seconds from 0 to 86400"#
                                    )
                                return
                            }
                            routes.cooldownSeconds = seconds
                        default:
                            try reader.skip()
                            problem =
                                problem
                                ?? InputError(
                                    file: path,
                                    line: at,
                                    message:
                                        #"unknown key "\#(key)"; a routes file has "deployments" and "cooldown_seconds""#
                                )
                        }
                    }
                }
            }
        } catch let error as JSONParseError {
            throw InputError(file: path, line: line(at: error.offset), message: "not JSON: \(error.message)")
        } catch {
            throw InputError(file: path, message: "cannot read the routes file: \(error)")
        }
        if let problem { throw problem }
        if routes.deployments.isEmpty {
            throw InputError(file: path, line: 1, message: #"no deployments; give {"deployments": [{…}, …]}"#)
        }
        return routes
    }
}

extension RoutesFile.Deployment {
    /// The keys a deployment may have.
    static let keys = [
        "name", "base_url", "api_key_env", "provider", "azure", "api_version", "headers", "rpm", "tpm",
        "concurrency", "weight", "models",
    ]

    mutating func set(
        _ key: String,
        _ value: JSONValue,
        file: String,
        line: Int,
        environment: [String: String]
    ) throws(InputError) {
        func problem(_ message: String) -> InputError { InputError(file: file, line: line, message: message) }
        func string() throws(InputError) -> String {
            guard case .string(let text) = value, !text.isEmpty else {
                throw problem(#""\#(key)" must be a non-empty string"#)
            }
            return text
        }
        func rate() throws(InputError) -> Double {
            guard case .number(let number) = value, let rate = number.double, rate > 0, rate <= 1e12 else {
                throw problem(#""\#(key)" must be a positive number per minute, at most 1e12"#)
            }
            return rate
        }
        switch key {
        case "name": name = try string()
        case "base_url":
            let text = try string()
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
                scheme == "http" || scheme == "https",
                url.host?.isEmpty == false
            else { throw problem(#""base_url" '\#(text)' is not an http(s) URL"#) }
            baseURL = text
        case "api_key_env":
            let variable = try string()
            guard let key = environment[variable], !key.isEmpty else {
                throw problem(
                    "the variable \(variable) (the key of deployment '\(name.isEmpty ? "?" : name)') is not set"
                )
            }
            apiKeyVariable = variable
            apiKey = key
        case "provider":
            let text = try string()
            guard text == "openai" || text == "anthropic" else {
                throw problem(#""provider" must be "openai" or "anthropic", not '\#(text)'"#)
            }
            provider = text
        case "azure":
            guard case .bool(let flag) = value else { throw problem(#""azure" must be true or false"#) }
            azure = flag
        case "api_version": apiVersion = try string()
        case "headers":
            guard case .object(let fields) = value else { throw problem(#""headers" must be an object of strings"#) }
            for (name, field) in fields {
                guard case .string(let text) = field else { throw problem(#"header "\#(name)" must be a string"#) }
                headers[name] = text
            }
        case "rpm": rpm = try rate()
        case "tpm": tpm = try rate()
        case "concurrency":
            if value == .string("auto") {
                concurrency = nil
            } else if case .number(let number) = value, let count = number.int, (1...10_000).contains(count) {
                concurrency = count
            } else {
                throw problem(#""concurrency" must be a number from 1 to 10000 or "auto""#)
            }
        case "weight":
            guard case .number(let number) = value, let weight = number.double, weight > 0, weight <= 1e6 else {
                throw problem(#""weight" must be a positive number"#)
            }
            self.weight = weight
        case "models":
            guard case .array(let entries) = value, !entries.isEmpty else {
                throw problem(#""models" must be a list of model names or {"name", "as"} objects"#)
            }
            for entry in entries {
                switch entry {
                case .string(let model) where !model.isEmpty:
                    models[model] = model
                case .object(let fields):
                    guard case .string(let model)? = fields["name"], !model.isEmpty,
                        Set(fields.keys).isSubset(of: ["name", "as"])
                    else { throw problem(#"a model object has "name" and optionally "as""#) }
                    if case .string(let renamed)? = fields["as"], !renamed.isEmpty {
                        models[model] = renamed
                    } else if fields["as"] != nil {
                        throw problem(#""as" must be a non-empty string"#)
                    } else {
                        models[model] = model
                    }
                default:
                    throw problem(#""models" must be a list of model names or {"name", "as"} objects"#)
                }
            }
        default:
            throw problem(#"unknown key "\#(key)" in a deployment; its keys are \#(Self.keys.joined(separator: ", "))"#)
        }
    }
}
