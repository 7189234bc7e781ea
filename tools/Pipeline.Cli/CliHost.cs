namespace Pipeline.Cli;

/// <summary>What the tool runs in: its output streams, environment variables and clock (a test passes its own).</summary>
public sealed class CliHost
{
    public required TextWriter Out { get; init; }

    public required TextWriter Error { get; init; }

    /// <summary>Reads an environment variable (<c>PIPELINE_KEY</c>, <c>BROWSER</c>, …).</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Whether the output is a terminal: live progress (bars, a status line that rewrites itself) only then.</summary>
    public bool Interactive { get; init; }

    /// <summary>How often <c>upload</c> polls storage and the serving app while it follows a dataset.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    public static CliHost FromProcess() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        Interactive = !Console.IsOutputRedirected && !Console.IsErrorRedirected,
    };
}
