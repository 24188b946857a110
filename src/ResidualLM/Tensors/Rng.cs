// The library's one random number generator: xoshiro256** (Blackman and Vigna 2018), seeded by SplitMix64.
// Fast and statistically strong for simulation; NOT cryptographic. Its whole state is four words, so a
// checkpoint can save and restore it exactly.
namespace ResidualLM.Tensors;

/// <summary>
/// A seedable xoshiro256** generator. The same seed gives the same sequence on every machine and .NET version,
/// because every method is defined here in integer arithmetic (only <see cref="NextGaussian"/> uses Math.Log/Sqrt/Cos).
/// Not thread-safe: give each thread its own instance.
/// </summary>
public sealed class Rng
{
    /// <summary>Number of 64-bit words in <see cref="GetState"/>.</summary>
    public const int StateLength = 4;

    ulong s0, s1, s2, s3;

    /// <summary>Creates a generator whose four state words are expanded from <paramref name="seed"/> by SplitMix64.</summary>
    public Rng(long seed)
    {
        // SplitMix64 spreads even adjacent seeds (0, 1, 2 ...) into unrelated, never all-zero states,
        // which is the seeding the xoshiro authors recommend.
        ulong x = (ulong)seed;
        s0 = SplitMix64(ref x);
        s1 = SplitMix64(ref x);
        s2 = SplitMix64(ref x);
        s3 = SplitMix64(ref x);
    }

    /// <summary>Same as <see cref="Rng(long)"/> with the seed's bits reinterpreted.</summary>
    public Rng(ulong seed) : this(unchecked((long)seed)) { }

    static ulong SplitMix64(ref ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        ulong z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = ulong.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>), without modulo bias.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="maxExclusive"/> is not positive.</exception>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive), maxExclusive, "must be positive");
        // Lemire's multiply-and-reject: the high word of x * n is uniform over [0, n) once the few low
        // products that would over-represent small values (low < 2^64 mod n) are rejected.
        ulong range = (ulong)maxExclusive;
        UInt128 product = (UInt128)NextUInt64() * range;
        ulong low = (ulong)product;
        if (low < range)
        {
            ulong threshold = (0UL - range) % range;
            while (low < threshold)
            {
                product = (UInt128)NextUInt64() * range;
                low = (ulong)product;
            }
        }
        return (int)(product >> 64);
    }

    /// <summary>Uniform float in [0, 1) with 24 random bits (every representable multiple of 2^-24).</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// Standard normal sample by the Box-Muller transform. One value per call (the second is discarded) so that
    /// the generator's state stays exactly the four words of <see cref="GetState"/>.
    /// </summary>
    public float NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]: keeps Log finite
        double u2 = NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher-Yates), every permutation equally likely.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A copy of the four state words, for checkpoints.</summary>
    public ulong[] GetState() => [s0, s1, s2, s3];

    /// <summary>Restores a state saved by <see cref="GetState"/>; the sequence then continues exactly as it would have.</summary>
    /// <exception cref="InvalidInputException">When the state does not have four words or is all zero (xoshiro's one invalid state).</exception>
    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != StateLength)
            throw new InvalidInputException($"expected {StateLength} state words, got {state.Length}", field: "rng state");
        if ((state[0] | state[1] | state[2] | state[3]) == 0)
            throw new InvalidInputException("all-zero state is invalid for xoshiro256** (it would emit zeros forever)", field: "rng state");
        s0 = state[0];
        s1 = state[1];
        s2 = state[2];
        s3 = state[3];
    }
}
