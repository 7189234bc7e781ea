using Pipeline.LocalHost;
using Pipeline.Storage;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddPipelineStorage(builder.Configuration);
builder.Services.AddOptions<LocalHostOptions>().Bind(builder.Configuration.GetSection(LocalHostOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<EventGridOptions>().Bind(builder.Configuration.GetSection(EventGridOptions.Section));
builder.Services.AddHostedService<EventGridEmulator>();
builder.Services.AddHostedService<LocalPipeline>();
await builder.Build().RunAsync();
