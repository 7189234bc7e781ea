using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.Monitoring;
using Pipeline.Preprocessing;
using Pipeline.Scoring;
using Pipeline.Storage;
using Pipeline.Telemetry;

var builder = FunctionsApplication.CreateBuilder(args);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddPipelineStorage(builder.Configuration);
builder.Services.AddPreprocessing();
builder.Services.AddScoring();
builder.Services.AddDriftReports();
builder.Services.AddPipelineTelemetry(builder.Configuration, "pipeline-functions", "Microsoft.Azure.Functions.Worker");
builder.Build().Run();
