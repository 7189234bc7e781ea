using System.ComponentModel.DataAnnotations;

namespace Pipeline.LocalHost;

public sealed class LocalHostOptions
{
    public const string Section = "LocalHost";

    /// <summary>The functions app's build or publish output (host.json, function folders, the handler executable).</summary>
    [Required]
    public string FunctionsAppPath { get; set; } = "";

    /// <summary>Port the handler listens on; HTTP functions are called here directly (<c>/api/...</c>).</summary>
    [Range(1, 65535)]
    public int Port { get; set; } = 7071;

    /// <summary>The trainer's executable; when set, one training worker is started beside the functions app.</summary>
    public string? TrainerPath { get; set; }

    public TimeSpan QueuePollInterval { get; set; } = TimeSpan.FromSeconds(1);
}
