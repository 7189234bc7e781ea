namespace Pipeline.Contracts;

/// <summary>
/// How one raw column becomes model features (dataset and model manifests). The preprocess step writes the encoded
/// values to Parquet (floats; 0/1 features as booleans); the predict function encodes request values with the same rules (<c>Pipeline.Datasets.FeatureEncoder</c>).
/// </summary>
public sealed class ColumnEncoding
{
    /// <summary>The raw column name: the key a predict request's rows use.</summary>
    public string Column { get; set; } = "";

    /// <summary>One of <see cref="ColumnKinds"/>: <c>numeric</c>, <c>boolean</c>, <c>categorical</c> or <c>datetime</c>.</summary>
    public string Kind { get; set; } = ColumnKinds.Numeric;

    /// <summary>Names of the features this column produces, in model input order.</summary>
    public List<string> Features { get; set; } = [];

    /// <summary>Categorical: the one-hot categories (top-K of the train split); the last feature is the "other" bucket.</summary>
    public List<string> Categories { get; set; } = [];

    /// <summary>Datetime: the derived parts, one feature each (<see cref="DateTimeParts"/>).</summary>
    public List<string> Parts { get; set; } = [];

    /// <summary>Value of each produced feature when the raw value is missing or cannot be read (train-split median, mode or mean).</summary>
    public List<double> Missing { get; set; } = [];

    /// <summary>Numeric columns declared in <c>dataset.json</c> with a decimal comma: the decimal separator.</summary>
    public string? DecimalSeparator { get; set; }

    /// <summary>Numeric columns declared in <c>dataset.json</c> with grouping: the thousands separator, removed before parsing.</summary>
    public string? ThousandsSeparator { get; set; }
}

/// <summary>Inferred column types (validation report) and encodings (<see cref="ColumnEncoding.Kind"/>).</summary>
public static class ColumnKinds
{
    public const string Numeric = "numeric";
    public const string Boolean = "boolean";
    public const string Categorical = "categorical";
    public const string Datetime = "datetime";

    /// <summary>Near-unique strings with spaces or long values: never a feature.</summary>
    public const string Text = "text";

    /// <summary>Near-unique short strings or consecutive integers: never a feature.</summary>
    public const string Identifier = "identifier";

    public const string Constant = "constant";
    public const string Empty = "empty";

    /// <summary>Types <c>dataset.json</c> may declare for a column (<c>columns.{name}.type</c>).</summary>
    public static readonly string[] Declarable = [Numeric, Boolean, Categorical, Datetime, Text, "ignore"];
}

/// <summary>Parts a datetime column can produce.</summary>
public static class DateTimeParts
{
    public const string Year = "year";
    public const string Month = "month";
    public const string Day = "day";
    public const string DayOfWeek = "dayOfWeek";
    public const string Hour = "hour";

    public static readonly string[] All = [Year, Month, Day, DayOfWeek, Hour];

    /// <summary>Where <paramref name="part"/> sits in <see cref="All"/> (and in <see cref="Of(DateTime, Span{double})"/>'s output).</summary>
    public static int IndexOf(string part)
    {
        var index = Array.IndexOf(All, part);
        return index >= 0 ? index : throw new ArgumentOutOfRangeException(nameof(part), part, "Unknown datetime part.");
    }

    /// <summary>Every part of <paramref name="value"/> in <see cref="All"/>'s order (the calendar date worked out once).</summary>
    public static void Of(DateTime value, Span<double> parts)
    {
        var (year, month, day) = value;
        parts[0] = year;
        parts[1] = month;
        parts[2] = day;
        parts[3] = (int)value.DayOfWeek;
        parts[4] = value.Hour + (value.Minute / 60.0);
    }
}
