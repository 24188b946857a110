// Reference twin of the attention kernels: the row-at-a-time version built on TensorPrimitives (one dot product or
// axpy per key), simple enough to read against the equations; tests check AttentionKernel against it. Glossary: BH = batch*heads, TQ/TK = query/key lengths, HS = head size.
// Queries may be a suffix of the keys (KV-cache decoding): query i sits at absolute position TK - TQ + i.
using System.Numerics.Tensors;

namespace ResidualLM.Kernels.Reference;

/// <summary>Straightforward versions of <see cref="AttentionKernel"/>, parallel over (batch, head) pairs.</summary>
public static class AttentionReference
{
    /// <summary>
    /// out = softmax(q k^T * scale + mask) v. q: (BH, TQ, HS); k, v: (BH, TK, HS); out: (BH, TQ, HS);
    /// probabilities: (BH, TQ, TK), written for backward (masked entries 0). keyPadding: (B, TK) true where a key is
    /// padding, or empty; heads maps bh to its batch row. A query row with every key masked gets zeros.
    /// </summary>
    public static unsafe void Forward(Parallelism threads, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        Span<float> probabilities, int batchHeads, int heads, int queryLength, int keyLength, int headSize, float scale,
        bool causal, ReadOnlySpan<bool> keyPadding)
    {
        CheckSizes(q.Length, k.Length, v.Length, output.Length, probabilities.Length, batchHeads, queryLength, keyLength, headSize);
        if (!keyPadding.IsEmpty && keyPadding.Length != batchHeads / heads * keyLength) throw new ArgumentException("key padding mask must be (B, TK)");
        fixed (float* pq = q, pk = k, pv = v, po = output, pp = probabilities)
        fixed (bool* pm = keyPadding)
        {
            float* qs = pq, ks = pk, vs = pv, os = po, ps = pp; bool* ms = pm; bool hasMask = !keyPadding.IsEmpty;
            threads.For(0, batchHeads, (start, end) =>
            {
                for (int bh = start; bh < end; bh++)
                {
                    float* qh = qs + (long)bh * queryLength * headSize, kh = ks + (long)bh * keyLength * headSize;
                    float* vh = vs + (long)bh * keyLength * headSize, oh = os + (long)bh * queryLength * headSize;
                    float* ph = ps + (long)bh * queryLength * keyLength;
                    bool* mask = hasMask ? ms + (long)(bh / heads) * keyLength : null;
                    for (int i = 0; i < queryLength; i++)
                    {
                        var qi = new ReadOnlySpan<float>(qh + (long)i * headSize, headSize);
                        var row = new Span<float>(ph + (long)i * keyLength, keyLength);
                        int visible = causal ? keyLength - queryLength + i + 1 : keyLength;
                        float max = float.NegativeInfinity;
                        for (int j = 0; j < visible; j++)
                        {
                            float s = (mask is not null && mask[j]) ? float.NegativeInfinity
                                : TensorPrimitives.Dot(qi, new ReadOnlySpan<float>(kh + (long)j * headSize, headSize)) * scale;
                            row[j] = s;
                            if (s > max) max = s;
                        }
                        row.Slice(visible).Clear();
                        var oi = new Span<float>(oh + (long)i * headSize, headSize);
                        oi.Clear();
                        if (float.IsNegativeInfinity(max)) { row.Clear(); continue; }
                        var live = row.Slice(0, visible);
                        TensorPrimitives.Subtract(live, max, live);
                        TensorPrimitives.Exp(live, live);
                        float inv = 1f / TensorPrimitives.Sum(live);
                        TensorPrimitives.Multiply(live, inv, live);
                        for (int j = 0; j < visible; j++)
                        {
                            float p = live[j];
                            if (p != 0f) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(vh + (long)j * headSize, headSize), p, oi, oi);
                        }
                    }
                }
            }, costPerItem: 4L * queryLength * keyLength * headSize);
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> given its probabilities P (after any dropout, i.e. the weights actually applied):
    /// dv += P^T dout; dP = dout v^T; dS = P (dP - rowsum(dP P)) (softmax backward; masked entries have P = 0);
    /// dq += dS k * scale; dk += dS^T q * scale. When dropout was applied, pass the kept-and-scaled weights as
    /// <paramref name="appliedWeights"/> and the pre-dropout probabilities as <paramref name="probabilities"/>.
    /// </summary>
    public static unsafe void Backward(Parallelism threads, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        ReadOnlySpan<float> probabilities, ReadOnlySpan<float> appliedWeights, ReadOnlySpan<float> dOutput,
        Span<float> dq, Span<float> dk, Span<float> dv, int batchHeads, int queryLength, int keyLength, int headSize, float scale)
    {
        CheckSizes(q.Length, k.Length, v.Length, dOutput.Length, probabilities.Length, batchHeads, queryLength, keyLength, headSize);
        if (dq.Length != q.Length || dk.Length != k.Length || dv.Length != v.Length) throw new ArgumentException("gradient sizes differ from inputs");
        if (!appliedWeights.IsEmpty && appliedWeights.Length != probabilities.Length) throw new ArgumentException("applied weights must match probabilities");
        fixed (float* pq = q, pk = k, pv = v, pp = probabilities, pa = appliedWeights, pdo = dOutput, pdq = dq, pdk = dk, pdv = dv)
        {
            float* qs = pq, ks = pk, vs = pv, ps = pp, wsAll = pa == null ? pp : pa, dos = pdo, dqs = pdq, dks = pdk, dvs = pdv;
            bool dropout = pa != null && !appliedWeights.IsEmpty;
            threads.For(0, batchHeads, (start, end) =>
            {
                var dP = new float[keyLength];
                for (int bh = start; bh < end; bh++)
                {
                    long qo = (long)bh * queryLength * headSize, ko = (long)bh * keyLength * headSize, po = (long)bh * queryLength * keyLength;
                    for (int i = 0; i < queryLength; i++)
                    {
                        var doi = new ReadOnlySpan<float>(dos + qo + (long)i * headSize, headSize);
                        float* prow = ps + po + (long)i * keyLength, wrow = wsAll + po + (long)i * keyLength;
                        // dv_j += W_ij dout_i ; dW_ij = dout_i . v_j
                        for (int j = 0; j < keyLength; j++)
                        {
                            float w = wrow[j];
                            if (prow[j] == 0f) { dP[j] = 0f; continue; }
                            var vj = new ReadOnlySpan<float>(vs + ko + (long)j * headSize, headSize);
                            var dvj = new Span<float>(dvs + ko + (long)j * headSize, headSize);
                            if (w != 0f) TensorPrimitives.MultiplyAdd(doi, w, dvj, dvj);
                            float dw = TensorPrimitives.Dot(doi, vj);
                            // Through dropout: W = P * keep / (1 - p), so dP = dW * (W / P).
                            dP[j] = dropout ? dw * (w / prow[j]) : dw;
                        }
                        float dot = 0f;
                        for (int j = 0; j < keyLength; j++) dot += dP[j] * prow[j];
                        var qi = new ReadOnlySpan<float>(qs + qo + (long)i * headSize, headSize);
                        var dqi = new Span<float>(dqs + qo + (long)i * headSize, headSize);
                        for (int j = 0; j < keyLength; j++)
                        {
                            float p = prow[j];
                            if (p == 0f) continue;
                            float ds = p * (dP[j] - dot) * scale;
                            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(ks + ko + (long)j * headSize, headSize), ds, dqi, dqi);
                            var dkj = new Span<float>(dks + ko + (long)j * headSize, headSize);
                            TensorPrimitives.MultiplyAdd(qi, ds, dkj, dkj);
                        }
                    }
                }
            }, costPerItem: 8L * queryLength * keyLength * headSize);
        }
    }

    static void CheckSizes(int q, int k, int v, int o, int p, int bh, int tq, int tk, int hs)
    {
        if (tq > tk) throw new ArgumentException($"query length {tq} exceeds key length {tk}");
        if (q != bh * tq * hs || o != q || k != bh * tk * hs || v != k || p != bh * tq * tk)
            throw new ArgumentException("attention span lengths do not match (BH, TQ, TK, HS)");
    }
}
