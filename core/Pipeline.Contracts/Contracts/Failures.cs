using System.Net.Http;
using System.Net.Sockets;
using Azure;

namespace Pipeline.Contracts;

/// <summary>Whether another attempt at the same work can succeed.</summary>
public enum FailureKind
{
    /// <summary>Storage or network trouble, a timeout: another attempt may not meet it.</summary>
    Transient,

    /// <summary>The work ran out of memory or disk: another attempt on the same machine size fails the same way.</summary>
    ResourceExhausted,

    /// <summary>Anything else — a crash on this input, a refused request (4xx): the same input fails the same way.</summary>
    Permanent,
}

/// <summary>
/// Classifies a failure for the retry decision. Queue consumers retry only <see cref="FailureKind.Transient"/> failures
/// (with back-off, up to their attempt limit) and end everything else at once with its reason, so a job that can never
/// succeed does not hold the queue through five attempts.
/// </summary>
public static class Failures
{
    public static FailureKind Classify(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (Exhausted(exception) is not null)
        {
            return FailureKind.ResourceExhausted;
        }

        return exception switch
        {
            // Azure.Core throws an AggregateException of the attempts' failures once its own retries are spent.
            AggregateException aggregate => aggregate.Flatten().InnerExceptions.All(e => Classify(e) == FailureKind.Transient) ? FailureKind.Transient : FailureKind.Permanent,
            RequestFailedException e => e.Status is 0 or 408 or 429 or >= 500 ? FailureKind.Transient : FailureKind.Permanent,
            OperationCanceledException or TimeoutException or HttpRequestException or SocketException or IOException => FailureKind.Transient,
            _ => FailureKind.Permanent,
        };
    }

    /// <summary>"memory" or "disk space" when the work ran out of it (also when wrapped), else null.</summary>
    public static string? Exhausted(Exception exception) => exception switch
    {
        OutOfMemoryException or InsufficientExecutionStackException => "memory",
        // ENOSPC (28) on Linux, ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL on Windows.
        IOException io when (io.HResult & 0xFFFF) is 28 or 0x70 or 0x27 => "disk space",
        AggregateException aggregate => aggregate.Flatten().InnerExceptions.Select(Exhausted).FirstOrDefault(r => r is not null),
        _ => exception.InnerException is { } inner ? Exhausted(inner) : null,
    };

    /// <summary>The reason recorded for a failure: its kind, type and message.</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return Classify(exception) switch
        {
            FailureKind.ResourceExhausted => $"ran out of {Exhausted(exception)} ({exception.GetType().Name}: {exception.Message})",
            FailureKind.Permanent => $"cannot succeed on this input ({exception.GetType().Name}: {exception.Message})",
            _ => $"{exception.GetType().Name}: {exception.Message}",
        };
    }
}
