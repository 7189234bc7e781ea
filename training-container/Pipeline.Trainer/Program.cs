using System.Text.Json;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Trainer;
using Pipeline.Training;
using Pipeline.Trainer.Worker;

// Usage:
//   Pipeline.Trainer                 poll train-requests until stopped (local)
//   Pipeline.Trainer --once          handle one message and exit (a Container Apps job replica)
//   Pipeline.Trainer --job <file>    run the training request in <file> once, without a queue
//   Pipeline.Trainer score [--once]  the scoring job: poll score-jobs (files too large for the functions app) and score
//                                    them with the functions app's handler; --once: one message, then exit
var score = args.Contains("score");
var jobFile = args.SkipWhile(a => a != "--job").Skip(1).FirstOrDefault();
if (args.Contains("--job") && jobFile is null)
{
    await Console.Error.WriteLineAsync("--job needs a file: Pipeline.Trainer --job <train-request.json>");
    return 2;
}

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args.Where(a => a is not "--once" and not "--job" and not "score" && a != jobFile).ToArray(),
    ContentRootPath = AppContext.BaseDirectory,
});
if (args.Contains("--once"))
{
    builder.Configuration[$"{WorkerOptions.Section}:{nameof(WorkerOptions.Once)}"] = "true";
}

if (score)
{
    builder.Services.AddScoringJob(builder.Configuration);
    await builder.Build().RunAsync();
    return Environment.ExitCode;
}

builder.Services.AddTrainer(builder.Configuration);
if (jobFile is null)
{
    builder.Services.AddSingleton<IQueueConsumer>(services => services.GetRequiredService<TrainRequestConsumer>());
    builder.Services.AddHostedService<QueueWorker>();
    await builder.Build().RunAsync();
    return Environment.ExitCode;
}

using var host = builder.Build();
var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Pipeline.Trainer");
var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
try
{
    await host.StartAsync();
    var request = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(jobFile, lifetime.ApplicationStopping), PipelineJson.Default.TrainRequest)
        ?? throw new TrainingFailedException($"{jobFile} holds JSON null.");
    var manifest = await host.Services.GetRequiredService<TrainingJob>().RunAsync(request, lifetime.ApplicationStopping);
    Console.WriteLine(JsonSerializer.Serialize(manifest, PipelineJson.Default.ModelManifest));
    return 0;
}
catch (Exception e) when (e is TrainingFailedException or JsonException or IOException or OptionsValidationException)
{
    logger.LogError(e, "Training job {JobFile} failed: {Error}", jobFile, e.Message);
    return 2;
}
catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
{
    logger.LogWarning("Training job {JobFile} stopped before it finished; checkpointed, nothing was published", jobFile);
    return QueueWorker.InterruptedExitCode;
}
finally
{
    await host.StopAsync(CancellationToken.None);
}
