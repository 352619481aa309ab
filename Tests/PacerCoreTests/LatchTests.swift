import PacerCore
import Testing

/// `Latch`: the one-way switch behind a batch's stop and a worker's stages of stopping.
@Suite(.timeLimit(.minutes(1))) struct LatchTests {
    @Test func everyWaiterEndsWhenItOpensAndLaterWaitsDoNotWait() async {
        let latch = Latch()
        #expect(!latch.isOpen)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<5 { group.addTask { await latch.wait() } }
            latch.open()
            await group.waitForAll()
        }
        #expect(latch.isOpen)
        await latch.wait()  // open already: returns at once
    }

    @Test func aCancelledWaitEndsWithoutTheLatchOpening() async {
        let latch = Latch()
        let waiter = Task { await latch.wait() }
        waiter.cancel()
        await waiter.value
        #expect(!latch.isOpen)
    }
}
