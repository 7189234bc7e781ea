using System.Globalization;
using Pipeline.Contracts;

namespace Pipeline.Cli.Output;

/// <summary>How numbers, durations and runs read in the tool's text output.</summary>
public static class Format
{
    public static string Number(double? value, string format = "0.####") => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    public static string Duration(double? seconds)
    {
        if (seconds is not { } s || double.IsNaN(s))
        {
            return "-";
        }

        var span = TimeSpan.FromSeconds(Math.Max(0, s));
        return span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes:00}m" : span.TotalMinutes >= 1 ? $"{span.Minutes}m{span.Seconds:00}s" : $"{span.TotalSeconds:0}s";
    }

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.0 'GB'", CultureInfo.InvariantCulture),
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.0 'MB'", CultureInfo.InvariantCulture),
        >= 1L << 10 => (bytes / (double)(1L << 10)).ToString("0.0 'KB'", CultureInfo.InvariantCulture),
        _ => $"{bytes} B",
    };

    public static string Metrics(IReadOnlyDictionary<string, double>? metrics) =>
        metrics is null || metrics.Count == 0 ? "-" : string.Join(", ", metrics.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key} {Number(m.Value)}"));

    public static string Time(DateTimeOffset? time) => time is { } t && t != default ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "-";

    /// <summary>One line of a run's progress: state, stage, trial, epoch, losses, elapsed and ETA.</summary>
    public static string Progress(RunStatus run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var parts = new List<string> { $"{run.State} {run.Stage}".Trim() };
        if (run.Trials > 0 && run.Trial > 0)
        {
            parts.Add($"trial {run.Trial}/{run.Trials}" + (run.TrialParameters is { Length: > 0 } p ? $" ({p})" : ""));
        }

        if (run.Epoch > 0)
        {
            parts.Add(run.MaxEpochs > 0 ? $"epoch {run.Epoch}/{run.MaxEpochs}" : $"epoch {run.Epoch}");
        }

        if (run.TrainLoss is not null || run.ValidationLoss is not null)
        {
            parts.Add($"loss {Number(run.TrainLoss)}/{Number(run.ValidationLoss)}" + (run.BestValidationLoss is { } best ? $" (best {Number(best)})" : ""));
        }

        parts.Add($"elapsed {Duration(run.ElapsedSeconds)}");
        if (run.EtaSeconds is { } eta)
        {
            parts.Add($"ETA {Duration(eta)}");
        }

        if (run.Attempt > 1)
        {
            parts.Add($"attempt {run.Attempt}");
        }

        return string.Join(", ", parts);
    }
}
