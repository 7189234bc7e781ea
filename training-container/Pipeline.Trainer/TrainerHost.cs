using Pipeline.Scoring;
using Pipeline.Storage;
using Pipeline.Trainer.Scoring;
using Pipeline.Telemetry;
using Pipeline.Training.Publishing;
using Pipeline.Training.Quantization;
using Pipeline.Training.Reporting;
using Pipeline.Trainer.Runs;
using Pipeline.Training;
using Pipeline.Trainer.Worker;

namespace Pipeline.Trainer;

public static class TrainerHost
{
    /// <summary>Everything the trainer needs, shared by the queue worker and the one-shot <c>--job</c> mode.</summary>
    public static IServiceCollection AddTrainer(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddPipelineStorage(configuration);
        services.AddHostedService<AzureSdkLogForwarder>();
        services.AddPipelineTelemetry(configuration, "pipeline-trainer");
        services.AddOptions<TrainerOptions>().Bind(configuration.GetSection(TrainerOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<WorkerOptions>().Bind(configuration.GetSection(WorkerOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<QuantizationOptions>().Bind(configuration.GetSection(QuantizationOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<QuantizationStep>();
        services.AddSingleton<ModelPublisher>();
        services.AddSingleton<ChampionChallenger>();
        services.AddSingleton<CheckpointStore>();
        services.AddSingleton<TrainingReportWriter>();
        services.AddSingleton<TrainingJob>();
        services.AddSingleton<TrainRequestConsumer>();
        return services;
    }

    /// <summary>
    /// The scoring job (<c>Pipeline.Trainer score</c>): consumes <c>score-jobs</c> (section <c>Worker</c>; its
    /// <c>QueueName</c> defaults to <c>score-jobs</c> here) and scores each file with the functions app's
    /// <see cref="Pipeline.Scoring.ScoreHandler"/> (section <c>Scoring</c>).
    /// </summary>
    public static IServiceCollection AddScoringJob(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddPipelineStorage(configuration);
        services.AddHostedService<AzureSdkLogForwarder>();
        services.AddPipelineTelemetry(configuration, "pipeline-scoring-job");
        services.AddOptions<WorkerOptions>()
            .Configure(o => o.QueueName = StorageNames.ScoreJobsQueue)
            .Bind(configuration.GetSection(WorkerOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddScoring();
        services.AddSingleton<IQueueConsumer, ScoreJobConsumer>();
        services.AddHostedService<QueueWorker>();
        return services;
    }
}
