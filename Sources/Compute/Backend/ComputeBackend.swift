#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the numbers of a model live and where its arithmetic runs.
///
/// A backend owns memory (allocation, host<->backend copies, synchronisation) and implements
/// every numerical operation the models use, once. Layers, models, optimizers and embedding
/// collections hold `DeviceBuffer`s and call these operations; they never do arithmetic in loops
/// of their own and never address backend memory. Host code that must see numbers (checkpoints,
/// fingerprints, metrics, logs) asks for an explicit copy.
///
/// Shapes are row-major. Operations are issued in order; `synchronize` waits for all of them
/// (results read by a copy are always complete). Operations whose result is a host value (a loss,
/// a count, a flag) return it complete.
public protocol ComputeBackend: AnyObject, Sendable {
    /// `cpu`, `separate-memory`, ...
    var name: String { get }
    /// The precision its GEMMs run in (bf16 asked of hardware without it runs fp32).
    var matmulPrecision: MatmulPrecision { get }

    // MARK: Memory

    /// A zero-filled buffer of `count` elements.
    func makeBuffer<Element: DeviceElement>(_ type: Element.Type, count: Int) -> DeviceBuffer<Element>
    /// Frees what `handle` names (called by the buffer when it goes).
    func release(_ handle: UInt)
    /// Host -> backend copy of `source.count` elements.
    func upload<Element: DeviceElement>(_ source: UnsafeBufferPointer<Element>, to destination: DeviceSlice<Element>)
    /// Backend -> host copy of `source.count` elements.
    func download<Element: DeviceElement>(_ source: DeviceSlice<Element>, into destination: UnsafeMutableBufferPointer<Element>)
    /// The host address of `slice` when this backend's memory is host memory, nil otherwise.
    /// For transports and file I/O that can work in place; compute code never asks.
    func hostAddress<Element: DeviceElement>(of slice: DeviceSlice<Element>) -> UnsafeMutablePointer<Element>?
    /// The address a GPU-aware transport (CUDA-aware MPI) reads and writes `slice` at: host
    /// memory's own address, a GPU's device address; nil where no transport can (the default:
    /// `hostAddress`).
    func transportAddress<Element: DeviceElement>(of slice: DeviceSlice<Element>) -> UnsafeMutableRawPointer?
    /// Waits until every operation issued so far has finished.
    func synchronize()

    // MARK: Element-wise and copies

    func fill(_ slice: DeviceSlice<Float>, with value: Float)
    func fill(_ slice: DeviceSlice<Int32>, with value: Int32)
    /// `destination = source` (same count).
    func copy(_ source: DeviceSlice<Float>, to destination: DeviceSlice<Float>)
    /// Copies `rows` rows of `columns` between strided matrices; a `sourceStride` of 0 repeats
    /// one row.
    func copyRows(from source: DeviceSlice<Float>, sourceStride: Int, to destination: DeviceSlice<Float>,
                  destinationStride: Int, rows: Int, columns: Int)
    /// `y += x` (same count).
    func add(_ x: DeviceSlice<Float>, into y: DeviceSlice<Float>)
    /// `output = a ⊙ b` element-wise (same count).
    func multiply(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, into output: DeviceSlice<Float>)
    /// `output = a ⊙ b + c` element-wise (same count; `output` may be `c`): a DCNv2 cross layer's
    /// combination, and the accumulation of its input gradient.
    func multiplyAdd(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, plus c: DeviceSlice<Float>, into output: DeviceSlice<Float>)
    /// Whether every element is finite (no infinity, no NaN).
    func allFinite(_ x: DeviceSlice<Float>) -> Bool
    /// `destination[i]` = `source[i]` rounded to nearest even in `format` (bit patterns; same count).
    func pack(_ source: DeviceSlice<Float>, as format: HalfFormat, into destination: DeviceSlice<UInt16>)
    /// `destination[i]` = the value of the `format` bit pattern `source[i]` (exact; same count).
    func unpack(_ source: DeviceSlice<UInt16>, from format: HalfFormat, into destination: DeviceSlice<Float>)

    // MARK: Dense layers

    /// `C = alpha op(A) op(B) + beta C`: op(A) is m x k, op(B) k x n, C m x n; `ld*` are row strides.
    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: DeviceSlice<Float>, lda: Int, b: DeviceSlice<Float>, ldb: Int,
              beta: Float, c: DeviceSlice<Float>, ldc: Int)
    /// The same over operands rounded to bf16 already (`pack`; row-major with their row strides),
    /// accumulating in fp32: an operand several products read (a layer's input, weights, output
    /// gradient) is rounded once. Only where `matmulPrecision` is bf16.
    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: DeviceSlice<UInt16>, lda: Int, b: DeviceSlice<UInt16>, ldb: Int,
              beta: Float, c: DeviceSlice<Float>, ldc: Int)
    /// A linear layer's forward in one call: `C = act(op(A) op(B) + bias)` (each row of the
    /// m x n `C` gets `bias[0 ..< n]`; act ReLU or identity). A backend whose products have a
    /// fused epilogue (cuBLASLt's) uses it; the default is `gemm` then `addBias`.
    func linearForward(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: MatmulOperand, lda: Int, b: MatmulOperand,
                       ldb: Int, c: DeviceSlice<Float>, ldc: Int, bias: DeviceSlice<Float>, relu: Bool)
    /// The same, with `C` also rounded to bf16 into `rounded` (the next layer's operand under
    /// bf16 products); the default is the forward, then `pack`. A backend may round in its epilogue.
    func linearForward(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: MatmulOperand, lda: Int, b: MatmulOperand,
                       ldb: Int, c: DeviceSlice<Float>, ldc: Int, bias: DeviceSlice<Float>, relu: Bool, rounded: DeviceSlice<UInt16>)
    /// The epilogue of a linear layer: `y[r, c] = act(y[r, c] + bias[c])`, act ReLU or identity.
    func addBias(_ y: DeviceSlice<Float>, bias: DeviceSlice<Float>, rows: Int, columns: Int, relu: Bool)
    /// ReLU backward in place: `gradient[i] = 0` where `output[i] <= 0`.
    func reluBackward(gradient: DeviceSlice<Float>, output: DeviceSlice<Float>, count: Int)
    /// `sums[c] += sum over r of x[r, c]` (bias gradients).
    func accumulateColumnSums(_ x: DeviceSlice<Float>, rows: Int, columns: Int, into sums: DeviceSlice<Float>)
    /// A DCNv2 cross layer's element-wise forward: `y += bias` by rows, `next = x0 ⊙ y + x`, and
    /// `next` rounded to bf16 into `rounded` when given (the next layer's operand); as `addBias`,
    /// `multiplyAdd` and `pack` one after the other (the default) would leave them.
    func crossLayerForward(y: DeviceSlice<Float>, bias: DeviceSlice<Float>, x0: DeviceSlice<Float>, x: DeviceSlice<Float>,
                           next: DeviceSlice<Float>, rows: Int, columns: Int, rounded: DeviceSlice<UInt16>?)
    /// Its backward: `crossGradient = g ⊙ x0`, `inputGradient += g ⊙ y`, and `crossGradient`
    /// rounded into `rounded` when given; as `multiply`, `multiplyAdd` and `pack` would.
    func crossLayerBackward(gradient: DeviceSlice<Float>, x0: DeviceSlice<Float>, y: DeviceSlice<Float>,
                            crossGradient: DeviceSlice<Float>, inputGradient: DeviceSlice<Float>, rounded: DeviceSlice<UInt16>?)
    /// The start of a linear layer's backward under bf16 products, as `reluBackward` (with
    /// `reluOutput`), `accumulateColumnSums` (with `biasGradient`) and `pack` into `rounded` of
    /// the (rows, columns) `gradient` one after the other (the default) would leave them; a
    /// backend may do it in one pass over the gradient.
    func linearBackwardEpilogue(gradient: DeviceSlice<Float>, rows: Int, columns: Int, reluOutput: DeviceSlice<Float>?,
                                biasGradient: DeviceSlice<Float>?, rounded: DeviceSlice<UInt16>)

    // MARK: Gates (a mixture of experts)

    /// Softmax of each row of (rows, columns) `x`, in place: a gate's weights from its logits.
    func softmaxRows(_ x: DeviceSlice<Float>, rows: Int, columns: Int)
    /// Softmax backward in place: `gradient[r, c] = p[r, c] (gradient[r, c] - Σ_c' p[r, c'] gradient[r, c'])`.
    func softmaxRowsBackward(probabilities: DeviceSlice<Float>, gradient: DeviceSlice<Float>, rows: Int, columns: Int)
    /// `y[r, c] += scales[r * scaleStride] * x[r, c]` for (rows, columns) `x` and `y`: an
    /// expert's output added with its gate weight (`scales` starts at the expert's column).
    func addScaledRows(_ x: DeviceSlice<Float>, scales: DeviceSlice<Float>, scaleStride: Int, into y: DeviceSlice<Float>,
                       rows: Int, columns: Int)
    /// `dots[r * dotStride] = Σ_c a[r, c] b[r, c]` for (rows, columns) `a` and `b`.
    func rowDots(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, rows: Int, columns: Int, into dots: DeviceSlice<Float>,
                 dotStride: Int)

    // MARK: Retrieval (two towers)

    /// `y[r] = x[r] / max(‖x[r]‖, 1e-12)` for (rows, columns) `x` and `y`, with each row's
    /// (clamped) norm in `norms[r]`: a tower's output on the unit sphere.
    func normalizeRows(_ x: DeviceSlice<Float>, into y: DeviceSlice<Float>, norms: DeviceSlice<Float>, rows: Int, columns: Int)
    /// Its backward: `dx[r] = (dy[r] - y[r] (y[r] · dy[r])) / norms[r]` from the forward's `y` and norms.
    func normalizeRowsBackward(output y: DeviceSlice<Float>, norms: DeviceSlice<Float>, outputGradient dy: DeviceSlice<Float>,
                               into dx: DeviceSlice<Float>, rows: Int, columns: Int)
    /// Softmax cross-entropy of each row of (rows, columns) `logits` against column
    /// `firstTarget + r` (a batch's own item among the gathered items), in place: the logits
    /// are lowered by `corrections[c]` (log Q of column c's item, or 0), columns whose
    /// `keys[c]` equals the target's but are not the target (accidental hits) are left out, and
    /// each row becomes `gradientScale (softmax - onehot)` (0 where left out). Returns the summed loss.
    func sampledSoftmaxCrossEntropy(_ logits: DeviceSlice<Float>, rows: Int, columns: Int, corrections: DeviceSlice<Float>,
                                    keys: DeviceSlice<Int32>, firstTarget: Int, gradientScale: Float) -> Double

    // MARK: Interaction and loss

    /// DLRM's dot interaction of (B, F, D) `input` into (B, [D +] F(F-1)/2) `output`.
    func dotInteraction(_ shape: InteractionShape, input: DeviceSlice<Float>, output: DeviceSlice<Float>, rows: Int)
    /// Its backward: dL/d(input) (overwritten) from dL/d(output).
    func dotInteractionBackward(_ shape: InteractionShape, input: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                                inputGradient: DeviceSlice<Float>, rows: Int)
    /// DeepFM's second-order term over the `fields` vectors of `dimension` at the start of each
    /// row of `input` (rows `rowStride` apart): `output[b] += ½ Σ_k((Σ_f v_fk)² − Σ_f v_fk²)`.
    func factorizationMachine(input: DeviceSlice<Float>, rowStride: Int, fields: Int, dimension: Int, rows: Int,
                              addingInto output: DeviceSlice<Float>)
    /// Its backward: `inputGradient[b, f, k] += outputGradient[b] (Σ_g v_gk − v_fk)`.
    func factorizationMachineBackward(input: DeviceSlice<Float>, rowStride: Int, fields: Int, dimension: Int, rows: Int,
                                      outputGradient: DeviceSlice<Float>, addingInto inputGradient: DeviceSlice<Float>)
    /// Binary cross-entropy on logits: returns the summed loss of `count` samples and, when
    /// given, writes `gradientScale * (sigmoid(x) - y)` into `logitGradient`.
    func binaryCrossEntropy(logits: DeviceSlice<Float>, labels: DeviceSlice<Float>,
                            logitGradient: DeviceSlice<Float>?, count: Int, gradientScale: Float) -> Double
    /// Summed squared error `(p - y)²` of `count` predictions; writes
    /// `gradientScale * 2 (p - y)` into `gradient` when given.
    func squaredError(predictions: DeviceSlice<Float>, labels: DeviceSlice<Float>,
                      gradient: DeviceSlice<Float>?, count: Int, gradientScale: Float) -> Double

    // MARK: Transformer
    /// Layer normalisation of each row of `width` with gain `gamma` and shift `beta`; keeps each
    /// row's mean and 1/sqrt(variance + epsilon) in `means` and `inverseDeviations` for backward.
    func layerNorm(input: DeviceSlice<Float>, gamma: DeviceSlice<Float>, beta: DeviceSlice<Float>, output: DeviceSlice<Float>,
                   means: DeviceSlice<Float>, inverseDeviations: DeviceSlice<Float>, rows: Int, width: Int, epsilon: Float)
    /// Its backward: `inputGradient` overwritten; `gammaGradient` and `betaGradient` added into.
    func layerNormBackward(input: DeviceSlice<Float>, gamma: DeviceSlice<Float>, means: DeviceSlice<Float>,
                           inverseDeviations: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                           inputGradient: DeviceSlice<Float>, gammaGradient: DeviceSlice<Float>, betaGradient: DeviceSlice<Float>,
                           rows: Int, width: Int)
    /// Multi-head scaled dot-product self-attention with a padding mask: per sequence and head,
    /// `softmax(Q Kᵀ / sqrt(dh)) V` over the sequence's last `lengths[s]` positions (the valid
    /// ones; the others are padding no query attends to). Q, K, V, `output`: (sequences·length,
    /// width); `probabilities` (sequences, heads, length, length) is kept for backward.
    func attention(_ shape: AttentionShape, queries: DeviceSlice<Float>, keys: DeviceSlice<Float>, values: DeviceSlice<Float>,
                   lengths: DeviceSlice<Int32>, probabilities: DeviceSlice<Float>, output: DeviceSlice<Float>)
    /// Its backward: the gradients of Q, K and V overwritten from dL/d(output).
    func attentionBackward(_ shape: AttentionShape, queries: DeviceSlice<Float>, keys: DeviceSlice<Float>, values: DeviceSlice<Float>,
                           lengths: DeviceSlice<Int32>, probabilities: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                           queryGradient: DeviceSlice<Float>, keyGradient: DeviceSlice<Float>, valueGradient: DeviceSlice<Float>)

    // MARK: Dense optimizers (element-wise over a whole parameter block)

    func sgdStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, learningRate: Float)
    /// `sums += g^2; p -= lr g / (sqrt(sums) + epsilon)`.
    func adagradStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, sums: DeviceSlice<Float>,
                     learningRate: Float, epsilon: Float)
    func adamStep(values: DeviceSlice<Float>, gradients: DeviceSlice<Float>, first: DeviceSlice<Float>,
                  second: DeviceSlice<Float>, step: AdamStep)

    // MARK: Embedding bags

    /// Pools each sample's bag: `output[b * outputStride ..< + dimension]` = sum (or mean) of
    /// the rows `ids[offsets[b] ..< offsets[b + 1]]` of `table` (zero for an empty bag).
    func embeddingBags(_ bags: EmbeddingBags, table: DeviceSlice<Float>, dimension: Int,
                       output: DeviceSlice<Float>, outputStride: Int, pooling: Pooling)
    /// Width-1 tables: `output[b] += sum of table[ids of bag b]` (the wide part's logits).
    func embeddingBagsAddingScalars(_ bags: EmbeddingBags, table: DeviceSlice<Float>, output: DeviceSlice<Float>)
    /// The reverse of `embeddingBags` added into `table`: every id's row gets
    /// `scale * gradient[b]` (divided by the bag size with mean pooling) once per appearance.
    /// With `scale = -learningRate` this is the fused SGD update of FBGEMM.
    func embeddingBagsScatterAdd(_ bags: EmbeddingBags, gradient: DeviceSlice<Float>, gradientStride: Int,
                                 scale: Float, pooling: Pooling, into table: DeviceSlice<Float>, dimension: Int)
    /// Adds each id's share of `gradient[b]` to its row's entry of `rowGradient` (de-duplicated
    /// in order of first appearance; sums in sample order).
    func accumulateBagGradients(_ bags: EmbeddingBags, gradient: DeviceSlice<Float>, gradientStride: Int,
                                pooling: Pooling, into rowGradient: SparseRowGradient)

    // MARK: Rows named by (table, row) pairs (the exchange of sharded tables)

    /// `output[j] = tables[pairs[2j]] row pairs[2j + 1]` for j < count.
    func gatherRows(_ tables: [ShardRows<Float>?], pairs: DeviceSlice<Int32>, count: Int, dimension: Int,
                    into output: DeviceSlice<Float>)
    /// `tables[pairs[2j]] row pairs[2j + 1] += scale * values[j]` for j < count, in order.
    func scatterAddRows(_ values: DeviceSlice<Float>, pairs: DeviceSlice<Int32>, count: Int, scale: Float,
                        into tables: [ShardRows<Float>?], dimension: Int)
    /// Adds `values[j]` to the entry of row pairs[2j + 1] in `gradients[pairs[2j]]`, in order.
    func accumulateRowGradients(_ values: DeviceSlice<Float>, pairs: DeviceSlice<Int32>, count: Int,
                                into gradients: [SparseRowGradient?], firstRows: [Int])
    /// Ends a gradient's accumulation: clears its row-to-slot map for the next batch.
    func finishRowGradient(_ gradient: SparseRowGradient)

    // MARK: Sparse optimizers (the rows of a `SparseRowGradient`)

    func sparseSGD(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, learningRate: Float)
    /// Row-wise Adagrad: one sum per row of the mean squared gradient.
    func sparseAdagrad(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, rowSums: DeviceSlice<Float>,
                       learningRate: Float, epsilon: Float)
    /// Lazy Adam: the moments of touched rows only.
    func sparseAdam(_ gradient: SparseRowGradient, table: DeviceSlice<Float>, first: DeviceSlice<Float>,
                    second: DeviceSlice<Float>, step: AdamStep)

    // MARK: Tables stored in bf16 (`TablePrecision.bf16`): read widened, updated in fp32,
    // written back by stochastic rounding

    /// `embeddingBags` over a bf16 table.
    func embeddingBags(_ bags: EmbeddingBags, table: DeviceSlice<UInt16>, dimension: Int,
                       output: DeviceSlice<Float>, outputStride: Int, pooling: Pooling)
    /// `embeddingBagsAddingScalars` over a bf16 table.
    func embeddingBagsAddingScalars(_ bags: EmbeddingBags, table: DeviceSlice<UInt16>, output: DeviceSlice<Float>)
    /// `output[j] = tables[pairs[2j]] row pairs[2j + 1]` for j < count, the stored bf16 bits.
    func gatherRows(_ tables: [ShardRows<UInt16>?], pairs: DeviceSlice<Int32>, count: Int, dimension: Int,
                    into output: DeviceSlice<UInt16>)
    /// The sparse optimizers over a bf16 table: each touched row widened, updated as the fp32
    /// operation updates it, and written back by `rounding`.
    func sparseSGD(_ gradient: SparseRowGradient, table: DeviceSlice<UInt16>, learningRate: Float, rounding: StochasticRounding)
    /// Their state is fp32 or bf16 (rounded as the rows are, with bits of its own).
    func sparseAdagrad(_ gradient: SparseRowGradient, table: DeviceSlice<UInt16>, rowSums: StoredValues,
                       learningRate: Float, epsilon: Float, rounding: StochasticRounding)
    func sparseAdam(_ gradient: SparseRowGradient, table: DeviceSlice<UInt16>, first: StoredValues,
                    second: StoredValues, step: AdamStep, rounding: StochasticRounding)
}

/// A matrix product's operand: fp32 values, or values rounded to bf16 already (`pack`).
public enum MatmulOperand {
    case fp32(DeviceSlice<Float>)
    case bf16(DeviceSlice<UInt16>)
}

extension ComputeBackend {
    /// `C = alpha op(A) op(B) + beta C` over two fp32 operands or two rounded ones.
    public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: MatmulOperand, lda: Int, b: MatmulOperand, ldb: Int, beta: Float, c: DeviceSlice<Float>, ldc: Int) {
        switch (a, b) {
        case (.fp32(let a), .fp32(let b)):
            gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c, ldc: ldc)
        case (.bf16(let a), .bf16(let b)):
            gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c, ldc: ldc)
        default:
            preconditionFailure("gemm: an fp32 operand beside a bf16 one")
        }
    }

    public func linearForward(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: MatmulOperand, lda: Int,
                              b: MatmulOperand, ldb: Int, c: DeviceSlice<Float>, ldc: Int, bias: DeviceSlice<Float>, relu: Bool) {
        precondition(ldc == n, "linearForward: C's rows must be contiguous (ldc \(ldc), n \(n))")
        gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0,
             c: c, ldc: ldc)
        addBias(c, bias: bias, rows: m, columns: n, relu: relu)
    }

    public func linearForward(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: MatmulOperand, lda: Int,
                              b: MatmulOperand, ldb: Int, c: DeviceSlice<Float>, ldc: Int, bias: DeviceSlice<Float>, relu: Bool,
                              rounded: DeviceSlice<UInt16>) {
        linearForward(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                      bias: bias, relu: relu)
        pack(c.slice(0, m * n), as: .bf16, into: rounded.slice(0, m * n))
    }

    public func crossLayerForward(y: DeviceSlice<Float>, bias: DeviceSlice<Float>, x0: DeviceSlice<Float>, x: DeviceSlice<Float>,
                                  next: DeviceSlice<Float>, rows: Int, columns: Int, rounded: DeviceSlice<UInt16>?) {
        addBias(y, bias: bias, rows: rows, columns: columns, relu: false)
        multiplyAdd(x0, y, plus: x, into: next)
        if let rounded { pack(next, as: .bf16, into: rounded.slice(0, next.count)) }
    }

    public func crossLayerBackward(gradient: DeviceSlice<Float>, x0: DeviceSlice<Float>, y: DeviceSlice<Float>,
                                   crossGradient: DeviceSlice<Float>, inputGradient: DeviceSlice<Float>, rounded: DeviceSlice<UInt16>?) {
        multiply(gradient, x0, into: crossGradient)
        multiplyAdd(gradient, y, plus: inputGradient, into: inputGradient)
        if let rounded { pack(crossGradient, as: .bf16, into: rounded.slice(0, crossGradient.count)) }
    }

    public func linearBackwardEpilogue(gradient: DeviceSlice<Float>, rows: Int, columns: Int, reluOutput: DeviceSlice<Float>?,
                                       biasGradient: DeviceSlice<Float>?, rounded: DeviceSlice<UInt16>) {
        let count = rows * columns
        if let reluOutput { reluBackward(gradient: gradient, output: reluOutput, count: count) }
        if let biasGradient { accumulateColumnSums(gradient, rows: rows, columns: columns, into: biasGradient) }
        pack(gradient.slice(0, count), as: .bf16, into: rounded.slice(0, count))
    }

    public func transportAddress<Element: DeviceElement>(of slice: DeviceSlice<Element>) -> UnsafeMutableRawPointer? {
        hostAddress(of: slice).map { UnsafeMutableRawPointer($0) }
    }

    public func makeFloats(_ count: Int) -> DeviceBuffer<Float> { makeBuffer(Float.self, count: count) }
    public func makeIndices(_ count: Int) -> DeviceBuffer<Int32> { makeBuffer(Int32.self, count: count) }
}

/// A 16-bit floating-point format: bf16 (fp32's range, 8 significant bits) or IEEE fp16
/// (range ±65,504, 11 significant bits).
public enum HalfFormat: String, Sendable, Codable, CaseIterable {
    case bf16, fp16
}

/// Sum or mean of a bag's rows.
public enum Pooling: String, Sendable, Codable {
    case sum, mean
}

/// The sizes of a dot interaction: `featureCount` vectors of `dimension` per sample; with
/// `passesFirstSlot` slot 0 is copied to the front of the output.
public struct InteractionShape: Sendable, Equatable {
    public let featureCount: Int
    public let dimension: Int
    public let passesFirstSlot: Bool

    public init(featureCount: Int, dimension: Int, passesFirstSlot: Bool) {
        self.featureCount = featureCount
        self.dimension = dimension
        self.passesFirstSlot = passesFirstSlot
    }

    public var pairCount: Int { featureCount * (featureCount - 1) / 2 }
    public var inputWidth: Int { featureCount * dimension }
    /// Where the dots start in each output row.
    public var pairsOffset: Int { passesFirstSlot ? dimension : 0 }
    public var outputWidth: Int { pairsOffset + pairCount }
}

/// The sizes of a batch of self-attention: `sequences` of `length` positions, `heads` heads of
/// `headDimension` (the model width is their product).
public struct AttentionShape: Sendable, Equatable {
    public let sequences: Int
    public let length: Int
    public let heads: Int
    public let headDimension: Int

    public init(sequences: Int, length: Int, heads: Int, headDimension: Int) {
        self.sequences = sequences
        self.length = length
        self.heads = heads
        self.headDimension = headDimension
    }

    public var width: Int { heads * headDimension }
    /// Elements of Q, K, V or the output.
    public var elementCount: Int { sequences * length * width }
    public var probabilityCount: Int { sequences * heads * length * length }
    /// The first position a sequence of `validLength` (clamped to 1 ... length) lets through.
    public func firstValidPosition(_ validLength: Int32) -> Int { length - min(max(Int(validLength), 1), length) }
}

/// One Adam update's constants: bias corrections folded into `stepSize` and
/// `secondCorrection = 1 / sqrt(1 - beta2^t)`.
public struct AdamStep: Sendable {
    public let stepSize: Float
    public let secondCorrection: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float

    public init(learningRate: Float, step: Int, beta1: Float, beta2: Float, epsilon: Float) {
        let t = Double(step)
        stepSize = learningRate / Float(1 - pow(Double(beta1), t))
        secondCorrection = Float(1 / (1 - pow(Double(beta2), t)).squareRoot())
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }
}

/// The bags of one categorical feature for `rows` samples in backend memory (CSR): sample b
/// owns `ids[offsets[b] ..< offsets[b + 1]]`.
public struct EmbeddingBags: @unchecked Sendable {
    public let ids: DeviceSlice<Int32>
    public let offsets: DeviceSlice<Int32>
    public let rows: Int
    /// Ids in the bags (offsets[rows]), known on the host.
    public let idCount: Int

    public init(ids: DeviceSlice<Int32>, offsets: DeviceSlice<Int32>, rows: Int, idCount: Int) {
        self.ids = ids
        self.offsets = offsets
        self.rows = rows
        self.idCount = idCount
    }
}

/// Rows of one table held by this process: `weights` (rows, dimension) holds global rows
/// `firstRow ..< firstRow + rows`, stored as `Value` (`Float`, or `UInt16` holding bf16).
public struct ShardRows<Value: DeviceElement>: @unchecked Sendable {
    public let weights: DeviceSlice<Value>
    public let firstRow: Int

    public init(weights: DeviceSlice<Value>, firstRow: Int) {
        self.weights = weights
        self.firstRow = firstRow
    }
}
