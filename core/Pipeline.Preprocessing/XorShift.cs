using System.Runtime.CompilerServices;

namespace Pipeline.Preprocessing;

/// <summary>
/// xorshift64*: a seeded stream of pseudo-random numbers for the hot paths of preprocessing (Random.NextInt64 on a seeded,
/// compatibility-mode Random costs several times more), the same for a seed on every run and platform.
/// </summary>
internal static class XorShift
{
    /// <summary>A number in [0, <paramref name="bound"/>), advancing <paramref name="state"/> (never 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Below(ref ulong state, ulong bound)
    {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return Math.BigMul(state * 0x2545F4914F6CDD1DUL, bound, out _);
    }
}
