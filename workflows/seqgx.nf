/*
 * SEQGX: the pipeline. The plan (PLAN: seqgx plan, as `seqgx run` makes it) holds every decision that
 * reads several parameters: the tissues with their files and readouts, the model steps' readout and
 * backend flags, which weights ISM uses, whether EXPORT_ONNX and MOTIFS run. The channels are built
 * from it; phase 1 (every gene) here, the model in PREPARE_MODEL, phase 2 (attribution) in ATTRIBUTION.
 */
include { PLAN          } from '../modules/local/plan/main'
include { CHECK_INPUTS  } from '../modules/local/check_inputs/main'
include { GENES         } from '../modules/local/genes/main'
include { PERSONALIZE   } from '../modules/local/personalize/main'
include { PREDICT       } from '../modules/local/predict/main'
include { STATS         } from '../modules/local/stats/main'
include { MERGE         } from '../modules/local/merge/main'
include { REPORT        } from '../modules/local/report/main'
include { PREPARE_MODEL } from '../subworkflows/local/prepare_model/main'
include { ATTRIBUTION   } from '../subworkflows/local/attribution/main'
include { optionalFile; indexOf; cohortVcfs; vcfOfBatch; batchOfTissue; byTissue } from '../subworkflows/local/utils_seqgx/main'

workflow SEQGX {
    main:
    run_params = Channel.value(groovy.json.JsonOutput.toJson(params)).collectFile(name: 'params.json').first()
    PLAN(run_params, optionalFile(params.tissues), workflow.launchDir.toString())
    plan = PLAN.out.plan.map { new groovy.json.JsonSlurper().parse(it.toFile()) }

    fasta_path = file(params.fasta, checkIfExists: true)
    fasta      = Channel.value([fasta_path, indexOf(fasta_path, ['.fai'])])
    vcfs       = cohortVcfs(params.vcf.toString())   // [[vcf, index], ...]
    annotation = Channel.value(file(params.annotation, checkIfExists: true))
    // The tissues as [meta, expression, covariates or []]: the model steps run once for the union of
    // their readouts; STATS, MERGE and REPORT once per tissue.
    tissue_ch = plan.flatMap { p ->
        p.tissues.collect { t ->
            [[id: t.name, tissue: t.name, samplesheet: p.samplesheet, stats_args: t.stats_args],
             file(t.expression, checkIfExists: true), t.covariates ? file(t.covariates, checkIfExists: true) : []]
        }
    }
    expression = plan.map { p -> p.tissues.collect { file(it.expression) } }
    covariates = plan.map { p -> p.tissues.findAll { it.covariates }.collect { file(it.covariates) } }
    // CHECK_INPUTS names each tissue's staged files (with a samplesheet; --expression otherwise)
    tissue_args = plan.map { p ->
        !p.samplesheet ? '' : p.tissues.collect { t ->
            "--tissue ${t.name} ${file(t.expression).name}" + (t.covariates ? " ${file(t.covariates).name}" : '')
        }.join(' ')
    }
    finemapped = Channel.value(optionalFile(params.finemapped))
    sample_map = Channel.value(optionalFile(params.sample_map))
    gene_list  = Channel.value(optionalFile(params.gene_list))
    // hparams: JSON text travels in the plan's flags, a JSON file is staged.
    hparams    = Channel.value(params.hparams && !params.hparams.toString().trim().startsWith('{')
                               ? file(params.hparams, checkIfExists: true) : [])
    finetuned  = plan.map { p -> p.finetuned_weights.collect { file(it, checkIfExists: true) } }
    track_tsv  = Channel.value(optionalFile(params.track_names))
    predictdb  = Channel.value(optionalFile(params.predictdb))

    PREPARE_MODEL(params.model.toString(), Channel.value(optionalFile(params.ism_model)), hparams, track_tsv, plan)

    CHECK_INPUTS(fasta, Channel.value(vcfs.collect { it[0] }), Channel.value(vcfs.collect { it[1] }),
                 annotation, expression, sample_map, gene_list, covariates, tissue_args)
    GENES(annotation, expression, gene_list, CHECK_INPUTS.out.contigs)

    // Each batch holds one chromosome's genes: its task stages only that chromosome's VCF.
    batches = GENES.out.batches.flatten()
        .combine(CHECK_INPUTS.out.vcfs)
        .map { batch, vcf_table ->
            def vcf_index = vcfOfBatch(batch, vcf_table, vcfs)
            [batch.baseName, batch, vcf_index[0], vcf_index[1]]
        }
    PERSONALIZE(batches, fasta, CHECK_INPUTS.out.samples)
    PREDICT(PERSONALIZE.out.haplotypes, PREPARE_MODEL.out.predict_model, hparams, finetuned, track_tsv,
            plan.map { it.model_args['predict'] })

    // Phase 1, every gene: one STATS task per batch and tissue with its haplotypes and predictions,
    // joined on the batch id, for the statistics that need no attribution (R, null, baselines); the
    // batch's VCF only when the PrediXcan baseline reads genotypes from it.
    batch_vcf = params.predictdb ? batches.map { id, _batch, vcf, index -> [id, vcf, index] }
                                 : batches.map { id, _batch, _vcf, _index -> [id, [], []] }
    per_batch = PERSONALIZE.out.haplotypes
        .join(PREDICT.out.predictions)
        .map { id, haplotypes, predictions -> [id, haplotypes, predictions, []] }
        .join(batch_vcf)
    STATS(per_batch.combine(tissue_ch).map { row -> batchOfTissue('stats', row) }, predictdb, finemapped)

    // Phase 2, the selected genes: ISM, attribution statistics, motifs.
    attribution_list = params.attribution_genes in ['significant', 'all'] ? []
                     : file(params.attribution_genes, checkIfExists: true)
    ATTRIBUTION(STATS.out.genes, STATS.out.drivers, GENES.out.genes, attribution_list, params.attribution_genes,
                PERSONALIZE.out.haplotypes, PREDICT.out.predictions, tissue_ch, PREPARE_MODEL.out.ism_model,
                hparams, finetuned, track_tsv, plan, vcfs, CHECK_INPUTS.out.vcfs, predictdb, finemapped)

    // The model steps' per-gene cost (calls, sequences, forward-equivalents), summed by MERGE.
    def by_name = { a, b -> a.name <=> b.name }
    cost_files = PREDICT.out.predictions
        .flatMap { _id, files -> [files].flatten().findAll { it.name.endsWith('.reference.json') } }
        .mix(ATTRIBUTION.out.ism_info.flatten(), ATTRIBUTION.out.motif_info)
    // Per tissue: its phase-1 tables and its phase-2 tables (none when no gene was selected).
    merge_tables = byTissue(STATS.out.genes).join(byTissue(STATS.out.drivers))
        .join(byTissue(ATTRIBUTION.out.genes).join(byTissue(ATTRIBUTION.out.drivers)), remainder: true)
        .map { row -> [row[0], row[1], row[2], row[3] ?: [], row.size() > 4 ? row[4] ?: [] : []] }
    MERGE(merge_tables, ATTRIBUTION.out.selection, cost_files.collect(sort: by_name).ifEmpty([]),
          ATTRIBUTION.out.motif_tables.collect(sort: by_name).ifEmpty([]), GENES.out.genes, finemapped)

    // The report: the merged tables, the gene pages' compact data, the selected genes' attribution files.
    report_tables = MERGE.out.tables.map { tissue, files -> [tissue, files.sort { it.name }] }
        .join(byTissue(STATS.out.genedata))
        .join(byTissue(ATTRIBUTION.out.genedata), remainder: true)
        .map { row -> [row[0], row[1], row[2], row[3] ?: []] }
    REPORT(report_tables,
           ATTRIBUTION.out.saturation.mix(ATTRIBUTION.out.gradients).flatten().collect(sort: by_name).ifEmpty([]),
           CHECK_INPUTS.out.summary, run_params)

    versions = PLAN.out.versions
        .mix(CHECK_INPUTS.out.versions, PREPARE_MODEL.out.versions, GENES.out.versions,
             PERSONALIZE.out.versions.first(), PREDICT.out.versions.first(), STATS.out.versions.first(),
             ATTRIBUTION.out.versions, MERGE.out.versions, REPORT.out.versions)
        .unique()

    emit:
    versions
}
