import NIOHTTP1

/// How requests reach an OpenAI-compatible API: its root, the key and the header that carries
/// it, extra headers, and, for Azure OpenAI, the deployment paths and `api-version`.
///
/// - OpenAI and compatible servers: `{baseURL}/chat/completions`, `Authorization: Bearer KEY`.
/// - Azure OpenAI as openai-python's `AzureOpenAI` reaches it: with ``azureAPIVersion`` set,
///   `{baseURL}/openai/deployments/{model}/chat/completions?api-version=V`, the deployment
///   being the request's model, and the key in `api-key`.
/// - Azure's v1 API: ``baseURL`` `https://NAME.openai.azure.com/openai/v1`, no version, the
///   key in `api-key`.
/// - Anthropic: ``baseURL`` `https://api.anthropic.com/v1`, the key in `x-api-key` and
///   `anthropic-version` with every request (``KeyHeader/anthropic(version:)``).
public struct APIAccess: Sendable, Hashable {
    /// Which header carries the key.
    public enum KeyHeader: Sendable, Hashable {
        /// `Authorization: Bearer KEY` (OpenAI and most servers).
        case bearer
        /// `api-key: KEY` (Azure OpenAI).
        case apiKey
        /// `x-api-key: KEY` and `anthropic-version: VERSION` (Anthropic's API).
        case anthropic(version: String)

        /// The `anthropic-version` Pacer speaks: the Messages API's only version.
        public static let anthropicVersion = "2023-06-01"
    }

    /// The API root: including its version (`https://api.openai.com/v1`), or Azure's
    /// resource endpoint when ``azureAPIVersion`` is set.
    public var baseURL: String
    /// The key; `nil` sends none (local servers).
    public var apiKey: String?
    /// The header that carries it. Default ``KeyHeader/bearer``.
    public var keyHeader: KeyHeader
    /// Azure's `api-version`: when set, requests go to the deployment paths.
    public var azureAPIVersion: String?
    /// Headers sent with every request (a gateway's, OpenRouter's), after Pacer's own.
    public var headers: [String: String]
    /// The `User-Agent` sent (``headers`` may replace it). Default ``userAgent(run:)`` of a
    /// run id drawn at random, so that a server's logs, and `pacer simulate`'s `/stats`, tell
    /// the processes sharing a key apart.
    public var userAgent: String

    /// Creates an access.
    public init(
        baseURL: String,
        apiKey: String? = nil,
        keyHeader: KeyHeader = .bearer,
        azureAPIVersion: String? = nil,
        headers: [String: String] = [:],
        userAgent: String = APIAccess.userAgent(run: UInt32.random(in: 0...0xFF_FFFF))
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.keyHeader = keyHeader
        self.azureAPIVersion = azureAPIVersion
        self.headers = headers
        self.userAgent = userAgent
    }

    /// `pacer (run 3fa9c1)`: the product and a run id of six hex digits (nothing of the
    /// machine or the user).
    public static func userAgent(run: UInt32) -> String {
        let hex = String(run & 0xFF_FFFF, radix: 16)
        return "pacer (run \(String(repeating: "0", count: 6 - hex.count))\(hex))"
    }

    /// What must never appear in a message or a file: the key, and the values of headers
    /// whose names speak of a key, token, secret, cookie or authorization.
    public var secrets: [String] {
        let sensitive = ["auth", "key", "token", "secret", "cookie"]
        var values: [String] = []
        for (name, value) in headers where sensitive.contains(where: { name.lowercased().contains($0) }) {
            values.append(value)
            // `Bearer KEY`: a server that echoes the key echoes it without the scheme.
            if let space = value.firstIndex(of: " ") { values.append(String(value[value.index(after: space)...])) }
        }
        return [apiKey].compactMap { $0 } + values.sorted { $0.count > $1.count }
    }

    /// The URL a request for `endpoint` and `model` goes to.
    public func url(for endpoint: APIEndpoint, model: String?) -> String {
        guard let version = azureAPIVersion else { return endpoint.url(base: baseURL) }
        var base = Substring(baseURL)
        while base.hasSuffix("/") { base = base.dropLast() }
        let deployment = (model ?? "").addingPercentEncodingForPath()
        return
            "\(base)/openai/deployments/\(deployment)/\(endpoint.path)?api-version=\(version.addingPercentEncodingForPath())"
    }

    /// The headers of a JSON request: content type, ``userAgent``, the key, and ``headers``.
    public func requestHeaders() -> HTTPHeaders {
        var fields = HTTPHeaders()
        fields.add(name: "Content-Type", value: "application/json")
        fields.add(name: "Accept", value: "application/json")
        fields.add(name: "User-Agent", value: userAgent)
        if let apiKey {
            switch keyHeader {
            case .bearer: fields.add(name: "Authorization", value: "Bearer \(apiKey)")
            case .apiKey: fields.add(name: "api-key", value: apiKey)
            case .anthropic: fields.add(name: "x-api-key", value: apiKey)
            }
        }
        if case .anthropic(let version) = keyHeader { fields.add(name: "anthropic-version", value: version) }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { fields.replaceOrAdd(name: name, value: value) }
        return fields
    }
}

extension String {
    /// The text with every byte outside RFC 3986's unreserved set percent-encoded.
    func addingPercentEncodingForPath() -> String {
        var result = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }

    private func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
