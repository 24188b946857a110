// PyTorch's CPU random generator (MT19937 seeded by torch.manual_seed) and its float32 uniform_ and nn.Linear
// default initialisation, reproduced bit for bit, so an experiment can start from exactly the weights a PyTorch
// script gets (the book's chapter-4 demo: torch.manual_seed(123), then nn.Linear layers). Limits: only what that needs.
namespace ResidualLM.Tensors;

/// <summary>MT19937 as torch.manual_seed(seed) sets it up; <see cref="Uniform"/> as Tensor.uniform_ on float32 CPU tensors.</summary>
public sealed class TorchGenerator
{
    readonly uint[] state = new uint[624];
    int index = 624;

    public TorchGenerator(uint seed)
    {
        state[0] = seed;
        for (int k = 1; k < 624; k++) state[k] = unchecked(1812433253u * (state[k - 1] ^ (state[k - 1] >> 30)) + (uint)k);
    }

    /// <summary>The next 32-bit output of MT19937 (tempered).</summary>
    public uint NextUInt32()
    {
        if (index >= 624)
        {
            for (int k = 0; k < 624; k++)
            {
                uint y = (state[k] & 0x80000000u) | (state[(k + 1) % 624] & 0x7fffffffu);
                state[k] = state[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
            }
            index = 0;
        }
        uint z = state[index++];
        z ^= z >> 11;
        z ^= (z << 7) & 0x9d2c5680u;
        z ^= (z << 15) & 0xefc60000u;
        z ^= z >> 18;
        return z;
    }

    /// <summary>
    /// Fills <paramref name="values"/> in order like tensor.uniform_(from, to) on a float32 CPU tensor: 24 random bits
    /// scaled by 2^-24 in double, times (to - from) computed in float, plus from, rounded to float.
    /// </summary>
    public void Uniform(Span<float> values, double from, double to)
    {
        float low = (float)from, high = (float)to;
        double range = high - low;
        foreach (ref float v in values) v = (float)((NextUInt32() & 0xFFFFFF) * (1.0 / (1 << 24)) * range + low);
    }

    /// <summary>nn.Linear.reset_parameters: weight (out, in) kaiming_uniform_(a = sqrt 5), then bias U(±1/sqrt(in)).</summary>
    public void InitializeLinear(Tensor weight, Tensor? bias)
    {
        int fanIn = weight.Dim(1);
        double gain = Math.Sqrt(2.0 / (1 + 5.0));
        double bound = Math.Sqrt(3.0) * (gain / Math.Sqrt(fanIn));
        Uniform(weight.Data, -bound, bound);
        if (bias is not null)
        {
            double biasBound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
            Uniform(bias.Data, -biasBound, biasBound);
        }
    }
}
