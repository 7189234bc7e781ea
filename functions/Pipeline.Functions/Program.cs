using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.Monitoring;
using Pipeline.Preprocessing;
using Pipeline.Scoring;
using Pipeline.Storage;

var builder = FunctionsApplication.CreateBuilder(args);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddPipelineStorage(builder.Configuration);
builder.Services.AddPreprocessing();
builder.Services.AddScoring();
builder.Services.AddDriftReports();
builder.Build().Run();
