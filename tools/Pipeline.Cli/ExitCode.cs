namespace Pipeline.Cli;

/// <summary>The tool's exit codes (docs/cli.md): scripts tell failures apart by them.</summary>
public enum ExitCode
{
    Success = 0,

    /// <summary>The pipeline said no: the upload was rejected, training failed, the version was not promoted, a conflict.</summary>
    Failed = 1,

    /// <summary>Bad arguments or options, or an input file that cannot be used.</summary>
    Usage = 2,

    /// <summary>No such dataset, model, version or run.</summary>
    NotFound = 3,

    /// <summary>The key or the signed-in identity was refused (401/403), or no credential could be found.</summary>
    Unauthorized = 4,

    /// <summary>Storage or the serving app could not be reached.</summary>
    Unreachable = 5,

    /// <summary><c>--timeout</c> passed before the outcome was known.</summary>
    TimedOut = 6,

    /// <summary>Stopped with Ctrl+C.</summary>
    Canceled = 130,
}

/// <summary>A failure with the exit code and the sentence the user reads.</summary>
public sealed class CliException(ExitCode code, string message, Exception? inner = null) : Exception(message, inner)
{
    public ExitCode Code { get; } = code;

    /// <summary>A short machine-readable name of <see cref="Code"/> for <c>--json</c> error output.</summary>
    public string Kind => Code switch
    {
        ExitCode.Failed => "failed",
        ExitCode.Usage => "usage",
        ExitCode.NotFound => "not-found",
        ExitCode.Unauthorized => "unauthorized",
        ExitCode.Unreachable => "unreachable",
        ExitCode.TimedOut => "timed-out",
        ExitCode.Canceled => "canceled",
        _ => "error",
    };
}
