using System.ComponentModel.DataAnnotations;

namespace Pipeline.LocalHost;

public sealed class LocalHostOptions : IValidatableObject
{
    public const string Section = "LocalHost";

    /// <summary>The functions app's build or publish output (host.json, worker.config.json, the worker assembly).</summary>
    [Required]
    public string FunctionsAppPath { get; set; } = "";

    /// <summary>The serving app's build or publish output; when set, it is started too and its HTTP API is called directly on <see cref="ServingPort"/> (<c>/api/...</c>).</summary>
    public string? ServingAppPath { get; set; }

    [Range(1, 65535)]
    public int ServingPort { get; set; } = 7071;

    /// <summary>The trainer's executable; when set, one training worker and one scoring job worker (<c>score</c> mode) are started beside the functions app.</summary>
    public string? TrainerPath { get; set; }

    public TimeSpan QueuePollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Schedules that replace a timer function's own (NCRONTAB), by function name, e.g. <c>LocalHost__TimerSchedules__DriftSchedule="0 */5 * * * *"</c>.</summary>
    public Dictionary<string, string> TimerSchedules { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (function, schedule) in TimerSchedules)
        {
            string? problem = null;
            try
            {
                TimerTriggerHost.Parse(schedule);
            }
            catch (FormatException e)
            {
                problem = e.Message;
            }

            if (problem is not null)
            {
                yield return new ValidationResult($"LocalHost:TimerSchedules:{function}: {problem}", [nameof(TimerSchedules)]);
            }
        }
    }
}
