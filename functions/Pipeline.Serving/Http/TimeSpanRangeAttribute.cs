using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Pipeline.Serving.Http;

/// <summary>
/// A <see cref="TimeSpan"/> between two bounds (inclusive). <c>[Range(typeof(TimeSpan), …)]</c> converts through a
/// reflection-based TypeConverter and is not trim/AOT-safe; this parses its bounds once, invariantly.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class TimeSpanRangeAttribute(string minimum, string maximum) : ValidationAttribute
{
    public TimeSpan Minimum { get; } = TimeSpan.Parse(minimum, CultureInfo.InvariantCulture);

    public TimeSpan Maximum { get; } = TimeSpan.Parse(maximum, CultureInfo.InvariantCulture);

    public override bool IsValid(object? value) => value is not TimeSpan span || (span >= Minimum && span <= Maximum);

    public override string FormatErrorMessage(string name) =>
        string.Create(CultureInfo.InvariantCulture, $"{name} must be between {Minimum:c} and {Maximum:c}.");
}
