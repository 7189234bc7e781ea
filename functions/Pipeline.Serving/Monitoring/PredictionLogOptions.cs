using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Pipeline.Serving.Http;

namespace Pipeline.Serving.Monitoring;

/// <summary>Prediction logging (section <c>Monitoring</c>): what share of predict requests is recorded, and how it is buffered. Validated at start-up.</summary>
public sealed class PredictionLogOptions
{
    public const string Section = "Monitoring";

    /// <summary>Record predictions at all (they are recorded only when the app serves from storage, not from <c>Models:Path</c>).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Every request is recorded while the rows recorded stay under this rate (a token bucket, one second of burst); above it, <see cref="SampleRate"/>.</summary>
    [Range(0.0, 1_000_000.0)]
    public double RowsPerSecond { get; set; } = 100;

    /// <summary>Share of requests recorded once <see cref="RowsPerSecond"/> is used up (0: none, 1: all).</summary>
    [Range(0.0, 1.0)]
    public double SampleRate { get; set; } = 0.01;

    /// <summary>Most bytes of recorded requests held in memory waiting to be written; a request that does not fit is dropped and counted.</summary>
    [Range(64 * 1024, 1024 * 1024 * 1024)]
    public int MaxBufferBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>How often buffered records are written, one gzip-compressed JSON Lines file per model version.</summary>
    [TimeSpanRange("00:00:01", "01:00:00")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>A model version's buffered records are written as soon as they reach this many bytes (before compression).</summary>
    [Range(64 * 1024, 256 * 1024 * 1024)]
    public int MaxFileBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Longest one file write may take; then it is abandoned and its records counted as dropped.</summary>
    [TimeSpanRange("00:00:01", "00:10:00")]
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Validates <see cref="PredictionLogOptions"/> from its DataAnnotations, generated at compile time (no reflection).</summary>
[OptionsValidator]
public sealed partial class PredictionLogOptionsValidator : IValidateOptions<PredictionLogOptions>;
