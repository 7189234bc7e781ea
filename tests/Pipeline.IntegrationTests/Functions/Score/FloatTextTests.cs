using System.Globalization;
using Pipeline.Scoring;

namespace Pipeline.Tests.Functions.Score;

/// <summary>The predictions files' number formatting reads back as exactly the float the model produced.</summary>
public sealed class FloatTextTests
{
    [Theory]
    [InlineData(0f, "0")]
    [InlineData(1f, "1")]
    [InlineData(0.5f, "0.5")]
    [InlineData(-2.25f, "-2.25")]
    [InlineData(0.1f, "0.1")]
    [InlineData(123456.5f, "123456.5")]
    [InlineData(1e-7f, "1E-07")]
    [InlineData(3e9f, "3E+09")]
    [InlineData(-0f, "-0")]
    public void TryFormat_KnownValues(float value, string expected)
    {
        Span<char> text = stackalloc char[32];
        Assert.True(FloatText.TryFormat(value, text, out var written));
        Assert.Equal(expected, text[..written].ToString());
    }

    [Fact]
    public void TryFormat_AnyFiniteFloat_ReadsBackAsTheSameBits()
    {
        var random = new Random(20261207);
        Span<char> text = stackalloc char[32];
        Span<byte> bytes = stackalloc byte[4];
        var plain = 0;
        for (var i = 0; i < 2_000_000; i++)
        {
            // Half uniformly over the bit patterns (every exponent), half in the range outputs live in.
            float value;
            if (i % 2 == 0)
            {
                random.NextBytes(bytes);
                value = BitConverter.ToSingle(bytes);
                if (!float.IsFinite(value))
                {
                    continue;
                }
            }
            else
            {
                value = (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-7, 10)));
            }

            Assert.True(FloatText.TryFormat(value, text, out var written));
            var parsed = float.Parse(text[..written], NumberStyles.Float, CultureInfo.InvariantCulture);
            Assert.True(BitConverter.SingleToInt32Bits(parsed) == BitConverter.SingleToInt32Bits(value),
                $"{value:R} was written as '{text[..written]}', which reads as {parsed:R}");
            if (text[..written].IndexOfAny('E', 'e') < 0)
            {
                plain++;
            }
        }

        Assert.True(plain > 900_000, $"only {plain} values took the plain decimal path");
    }

    [Fact]
    public void TryFormat_PowersOfTwoAndTheirNeighbours_ReadBackExactly()
    {
        // Below a power of two the gap between floats halves: the margin must follow the smaller gap.
        Span<char> text = stackalloc char[32];
        for (var exponent = -20; exponent < 30; exponent++)
        {
            var power = BitConverter.SingleToInt32Bits(MathF.Pow(2, exponent));
            for (var step = -3; step <= 3; step++)
            {
                var value = BitConverter.Int32BitsToSingle(power + step);
                Assert.True(FloatText.TryFormat(value, text, out var written));
                Assert.Equal(value, float.Parse(text[..written], CultureInfo.InvariantCulture));
            }
        }
    }

    [Fact]
    public void TryFormat_Probabilities_AreAsShortAsTheRuntimesShortestFormMostly()
    {
        var random = new Random(7);
        Span<char> text = stackalloc char[32];
        Span<char> shortest = stackalloc char[32];
        var longer = 0;
        const int Count = 100_000;
        for (var i = 0; i < Count; i++)
        {
            var value = (float)random.NextDouble();
            Assert.True(FloatText.TryFormat(value, text, out var written));
            if (value < 1e-4f)
            {
                continue; // the runtime writes these with an exponent, which plain decimals never use
            }

            Assert.True(value.TryFormat(shortest, out var runtime, provider: CultureInfo.InvariantCulture));
            Assert.True(written <= runtime + 1, $"{value:R}: '{text[..written]}' against '{shortest[..runtime]}'");
            if (written > runtime)
            {
                longer++;
            }
        }

        // Staying a hair inside half the gap costs a digit only where the shortest form sits on the tie.
        Assert.True(longer < Count / 100, $"{longer} of {Count} values are longer than the runtime's shortest form");
    }
}
