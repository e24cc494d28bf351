/// A scored item row.
package struct ScoredItem: Equatable {
    package var row: Int32
    package var score: Float

    package init(row: Int32, score: Float) {
        self.row = row
        self.score = score
    }

    /// The ranking order: higher score first, then lower row (deterministic ties).
    @inline(__always)
    package static func ranksBefore(_ a: ScoredItem, _ b: ScoredItem) -> Bool {
        a.score > b.score || (a.score == b.score && a.row < b.row)
    }
}

/// Partial selection of the k best items with a bounded min-heap: O(n log k).
package struct TopKSelector {
    package let k: Int
    private(set) var heap: [ScoredItem] = []  // heap[0] ranks last among the kept items

    package init(k: Int) {
        self.k = k
        heap.reserveCapacity(k)
    }

    @inline(__always)
    package mutating func offer(row: Int32, score: Float) {
        let item = ScoredItem(row: row, score: score)
        if heap.count < k {
            heap.append(item)
            siftUp(heap.count - 1)
        } else if k > 0, ScoredItem.ranksBefore(item, heap[0]) {
            heap[0] = item
            siftDown(0)
        }
    }

    package var isFull: Bool { heap.count == k }
    /// The score of the item that ranks last among the kept ones.
    package var worstScore: Float { heap.first?.score ?? -.infinity }

    /// The kept items, best first.
    package func sorted() -> [ScoredItem] { heap.sorted(by: ScoredItem.ranksBefore) }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard ScoredItem.ranksBefore(heap[parent], heap[child]) else { return }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var worst = parent
            if left < heap.count, ScoredItem.ranksBefore(heap[worst], heap[left]) { worst = left }
            if right < heap.count, ScoredItem.ranksBefore(heap[worst], heap[right]) { worst = right }
            if worst == parent { return }
            heap.swapAt(parent, worst)
            parent = worst
        }
    }
}
