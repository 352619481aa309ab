import Hummingbird
import NIOCore

/// The request context of the simulator: Hummingbird's, plus the channel (to drop connections).
struct SimulatorContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
