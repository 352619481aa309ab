import PacerCore
import PacerHTTP
import Testing

@testable import PacerOpenAI

/// Packing texts into embeddings requests, and splitting a refused pack (issue 10).
@Suite struct EmbeddingPackingTests {
    /// A text of `tokens` estimated tokens.
    func input(_ id: Int, tokens: Int = 1) -> EmbeddingInput {
        EmbeddingInput(id: String(id), text: String(repeating: "abcd", count: tokens))
    }

    func pack(_ inputs: [EmbeddingInput], limits: EmbeddingPacker.Limits) -> [[String]] {
        var packer = EmbeddingPacker(limits: limits)
        var packs = inputs.compactMap { packer.add($0) }
        if let last = packer.flush() { packs.append(last) }
        return packs.map { $0.inputs.map(\.id) }
    }

    @Test func packsAreFilledInInputOrderUpToTheInputLimit() {
        let packs = pack((1...5).map { input($0) }, limits: .init(maxInputs: 2, maxTokens: 100))
        #expect(packs == [["1", "2"], ["3", "4"], ["5"]])
    }

    @Test func packsStopBeforeTheTokenLimitAndAnOversizedTextGoesAlone() {
        let inputs = [input(1, tokens: 4), input(2, tokens: 5), input(3, tokens: 20), input(4, tokens: 1)]
        #expect(pack(inputs, limits: .init(maxInputs: 10, maxTokens: 10)) == [["1", "2"], ["3"], ["4"]])
    }

    @Test func limitsComeFromTheTPMAndThePackFlag() {
        #expect(
            EmbeddingPacker.Limits.from(tokensPerMinute: nil, pack: nil) == .init(maxInputs: 2048, maxTokens: 150_000)
        )
        #expect(EmbeddingPacker.Limits.from(tokensPerMinute: 1_000_000, pack: nil).maxTokens == 33_333)
        #expect(EmbeddingPacker.Limits.from(tokensPerMinute: 30, pack: 16) == .init(maxInputs: 16, maxTokens: 1))
    }

    func refusal(param: String?, status: Int = 400, retryable: Bool = false) -> ItemError {
        var error = ItemError(kind: .httpStatus, status: status, message: "refused", isRetryable: retryable)
        let named = param.map { #""param":"\#($0)","# } ?? ""
        error.responseBody = #"{"error":{\#(named)"message":"refused","type":"invalid_request_error"}}"#
        return error
    }

    @Test func aRefusalNamingAnInputIsolatesIt() throws {
        let whole = EmbeddingPack((0..<6).map { input($0) })
        let parts = try #require(whole.split(after: refusal(param: "input[4]")))
        #expect(parts.map { $0.inputs.map(\.id) } == [["0", "1", "2", "3", "5"], ["4"]])
    }

    @Test func aRefusalNamingNoInputHalvesThePack() throws {
        let whole = EmbeddingPack((0..<5).map { input($0) })
        let parts = try #require(whole.split(after: refusal(param: "input")))
        #expect(parts.map { $0.inputs.map(\.id) } == [["0", "1"], ["2", "3", "4"]])
    }

    @Test func onlyRefusalsAboutTheInputsSplit() {
        let whole = EmbeddingPack((0..<4).map { input($0) })
        #expect(whole.split(after: refusal(param: nil, status: 401)) == nil, "a bad key fails every part")
        #expect(whole.split(after: refusal(param: nil, status: 404)) == nil, "so does an unknown model")
        #expect(whole.split(after: refusal(param: nil, status: 500, retryable: true)) == nil, "a 500 is retried")
        #expect(EmbeddingPack([input(1)]).split(after: refusal(param: "input[0]")) == nil, "alone, it is the answer")
        var tooLarge = refusal(param: nil, status: 429)
        tooLarge.message = "Request too large for text-embedding-3-small: Limit 1000, Requested 4000."
        #expect(whole.split(after: tooLarge)?.count == 2)
    }

    /// Issue 20: `--dimensions 5000` (a 400 naming `dimensions`) made 1,990 refused requests
    /// for 10 packs on 991d846: the pack was halved down to single texts.
    @Test func aRefusalNamingAnotherParameterDoesNotSplit() {
        let whole = EmbeddingPack((0..<4).map { input($0) })
        #expect(whole.split(after: refusal(param: "dimensions")) == nil)
        #expect(whole.split(after: refusal(param: "encoding_format")) == nil)
        #expect(whole.split(after: refusal(param: nil))?.count == 2, "a refusal naming nothing may be an input's")
    }

    @Test func tokenSharesAddUpToTheServersCount() {
        let whole = EmbeddingPack([input(1, tokens: 1), input(2, tokens: 3), input(3, tokens: 6)])
        let answer = EmbeddingPackResult(
            embeddings: [],
            usage: TokenUsage(prompt: 23, completion: 0, total: 23),
            model: "m",
            costUSD: nil
        )
        let shares = answer.tokenShares(of: whole)
        #expect(shares.reduce(0, +) == 23 && shares[2] > shares[1] && shares[1] > shares[0])
    }
}
