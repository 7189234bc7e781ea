using System.Text.Json;
using Pipeline.Contracts;
using Pipeline.Datasets;

namespace Pipeline.Tests.Core.Datasets;

public class FeatureEncoderTests
{
    private static FeatureEncoder CreateSut() => new(
    [
        new ColumnEncoding { Column = "age", Kind = ColumnKinds.Numeric, Features = ["age"], Missing = [40] },
        new ColumnEncoding { Column = "member", Kind = ColumnKinds.Boolean, Features = ["member"], Missing = [0] },
        new ColumnEncoding
        {
            Column = "colour", Kind = ColumnKinds.Categorical, Categories = ["red", "blue"],
            Features = ["colour=red", "colour=blue", "colour=*other*"], Missing = [0, 0, 1],
        },
        new ColumnEncoding
        {
            Column = "when", Kind = ColumnKinds.Datetime, Parts = [DateTimeParts.Month, DateTimeParts.DayOfWeek, DateTimeParts.Hour],
            Features = ["when.month", "when.dayOfWeek", "when.hour"], Missing = [6, 3, 12],
        },
        new ColumnEncoding { Column = "price", Kind = ColumnKinds.Numeric, Features = ["price"], Missing = [0], DecimalSeparator = ",", ThousandsSeparator = "." },
    ]);

    /// <summary>Encodes one row object the way the predict reader does: a <see cref="Utf8JsonReader"/> on each value.</summary>
    private static float[] EncodeJson(FeatureEncoder encoder, string json)
    {
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json));
        var row = new float[encoder.Width];
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var c = encoder.ColumnIndex(reader.GetString());
            reader.Read();
            Assert.True(encoder.TryEncode(c, ref reader, row.AsSpan(encoder.OffsetOf(c), encoder.WidthOf(c))));
        }

        return row;
    }

    [Fact]
    public void BinaryFeatures_AreTheBooleanAndOneHotOnes()
    {
        var encoder = CreateSut();

        Assert.Equal([false, true, true, true, true, false, false, false, false], encoder.BinaryFeatures);
    }

    [Fact]
    public void FeatureNames_AreTheEncodedFeaturesInColumnOrder()
    {
        var sut = CreateSut();

        Assert.Equal(["age", "member", "colour=red", "colour=blue", "colour=*other*", "when.month", "when.dayOfWeek", "when.hour", "price"], sut.FeatureNames);
        Assert.Equal(2, sut.OffsetOf(2));
    }

    [Fact]
    public void TryEncode_RawJsonValues_BecomeFeatures()
    {
        var row = EncodeJson(CreateSut(), """{"age": 31, "member": "yes", "colour": "blue", "when": "2024-03-05T14:30:00Z", "price": "1.234,5"}""");

        Assert.Equal([31f, 1f, 0f, 1f, 0f, 3f, (float)DayOfWeek.Tuesday, 14.5f, 1234.5f], row);
    }

    [Fact]
    public void TryEncode_NumbersAsTextAndTextAsNumbers_ReadByTheColumnsKind()
    {
        var row = EncodeJson(CreateSut(), """{"age": "12.5", "member": 1, "colour": 3, "when": "2024-12-31", "price": null}""");

        Assert.Equal([12.5f, 1f, 0f, 0f, 1f, 12f, (float)DayOfWeek.Tuesday, 0f, 0f], row);
    }

    [Fact]
    public void TryEncode_UnknownCategoryAndNulls_GoToOtherAndImputation_NeverAnError()
    {
        var row = EncodeJson(CreateSut(), """{"age": null, "member": false, "colour": "ultraviolet", "when": null, "price": 7}""");

        Assert.Equal([40f, 0f, 0f, 0f, 1f, 6f, 3f, 12f, 7f], row);
    }

    [Theory]
    [InlineData("age", "\"thirty\"")]
    [InlineData("age", "[1]")]
    [InlineData("member", "\"maybe\"")]
    [InlineData("when", "\"someday\"")]
    public void TryEncode_ValueOfTheWrongKind_IsRefused(string column, string json)
    {
        var sut = CreateSut();
        var c = sut.Columns.ToList().FindIndex(e => e.Column == column);
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json));
        reader.Read();

        Assert.False(sut.TryEncode(c, ref reader, new float[sut.WidthOf(c)]));
    }

    [Fact]
    public void Encode_TextCells_MatchesTheJsonPath()
    {
        var sut = CreateSut();
        var row = new float[sut.Width];
        string[] cells = ["31", "yes", "blue", "2024-03-05T14:30:00Z", "1.234,5"];
        for (var c = 0; c < cells.Length; c++)
        {
            Assert.True(sut.Encode(c, cells[c], row.AsSpan(sut.OffsetOf(c), sut.WidthOf(c))));
        }

        Assert.Equal(EncodeJson(sut, """{"age": 31, "member": "yes", "colour": "blue", "when": "2024-03-05T14:30:00Z", "price": "1.234,5"}"""), row);
        Assert.False(sut.Encode(0, "NA", row.AsSpan(0, 1)));
        Assert.Equal(40f, row[0]);
    }

    [Fact]
    public void Constructor_EncodingWithWrongFeatureCount_Throws() =>
        Assert.Throws<ArgumentException>(() => new FeatureEncoder([new ColumnEncoding { Column = "c", Kind = ColumnKinds.Categorical, Categories = ["a"], Features = ["c=a"], Missing = [0] }]));
}

public class RawValuesTests
{
    [Theory]
    [InlineData("", true)]
    [InlineData("NA", true)]
    [InlineData("null", true)]
    [InlineData("NULL", true)]
    [InlineData("n/a", true)]
    [InlineData("0", false)]
    [InlineData("none of it", false)]
    public void IsMissing_KnowsTheMissingTokens(string value, bool missing) => Assert.Equal(missing, RawValues.IsMissing(value));

    [Theory]
    [InlineData("12", 12.0)]
    [InlineData("-0.5", -0.5)]
    [InlineData("+3.25", 3.25)]
    [InlineData(".5", 0.5)]
    [InlineData("5.", 5.0)]
    [InlineData("1e-3", 0.001)]
    [InlineData("1E5", 100000.0)]
    [InlineData("-1.5e+2", -150.0)]
    [InlineData("123456789012345678", 123456789012345678.0)]
    [InlineData("0.1", 0.1)]
    [InlineData("3.14159265358979", 3.14159265358979)]
    public void TryParseNumber_InvariantNumbers_ParseExactly(string text, double expected)
    {
        Assert.True(RawValues.TryParseNumber(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("1,234")]
    [InlineData("3,5")]
    [InlineData("Infinity")]
    [InlineData("NaN")]
    [InlineData("1e999")]
    [InlineData("-")]
    [InlineData(".")]
    [InlineData("12abc")]
    [InlineData("2024-03-05")]
    [InlineData("1.2.3")]
    [InlineData("e5")]
    public void TryParseNumber_SeparatorsAndNonFinite_AreNotNumbers(string text) => Assert.False(RawValues.TryParseNumber(text, out _));

    [Fact]
    public void TryParseNumber_OnNumberLikeText_AgreesWithDoubleTryParse()
    {
        // Strings over the characters numbers are made of: whatever stops the fast path must not change the answer.
        var random = new Random(12);
        const string alphabet = "0123456789012345678.-+eE,x";
        for (var i = 0; i < 50_000; i++)
        {
            var text = new string(Enumerable.Range(0, random.Next(1, 22)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            var expected = double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var parsed) && double.IsFinite(parsed);
            Assert.True(expected == RawValues.TryParseNumber(text, out var value), text);
            if (expected)
            {
                Assert.Equal(parsed, value);
            }
        }
    }

    [Fact]
    public void TryParseNumber_FastPath_AgreesWithDoubleParse()
    {
        var random = new Random(11);
        for (var i = 0; i < 20_000; i++)
        {
            var text = Math.Round((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 9)), random.Next(0, 7)).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(RawValues.TryParseNumber(text, out var value));
            Assert.Equal(double.Parse(text, System.Globalization.CultureInfo.InvariantCulture), value);
        }
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("Yes", true)]
    [InlineData("1", true)]
    [InlineData("no", false)]
    [InlineData("FALSE", false)]
    [InlineData("0", false)]
    [InlineData("T", true)]
    [InlineData("y", true)]
    [InlineData("f", false)]
    [InlineData("N", false)]
    [InlineData("nO", false)]
    [InlineData("yES", true)]
    [InlineData("True", true)]
    public void TryParseBoolean_NaturalForms(string text, bool expected)
    {
        Assert.True(RawValues.TryParseBoolean(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("2")]
    [InlineData("x")]
    [InlineData("\u0011")] // '1' without its 0x20 bit
    [InlineData("\u0010")] // and 0 without it
    [InlineData("ye")]
    [InlineData("tru")]
    [InlineData("falsy")]
    [InlineData("falses")]
    [InlineData("on")]
    [InlineData("10")]
    public void TryParseBoolean_AnythingElse_IsNotABoolean(string text) => Assert.False(RawValues.TryParseBoolean(text, out _));

    [Theory]
    [InlineData("2024-03-05", true)]
    [InlineData("2024-03-05T14:30:00+02:00", true)]
    [InlineData("03/05/2024 14:30", true)]
    [InlineData("20240305", false)]
    [InlineData("12.5", false)]
    [InlineData("hello", false)]
    public void TryParseDateTime_DatesButNeverNumbers(string text, bool expected) => Assert.Equal(expected, RawValues.TryParseDateTime(text, out _));
}
