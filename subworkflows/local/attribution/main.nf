/*
 * ATTRIBUTION: phase 2 of the statistics, for the genes attribution-genes selects (significant in any
 * tissue, all, or a list). The selected genes are re-batched per chromosome; their haplotypes and
 * predictions are found by gene id; ISM of every SNV, then ATTRIBUTION_STATS (the linear approximation
 * and drivers) per batch and tissue, then MOTIFS around the drivers when the plan says so.
 */
include { ATTRIBUTION_GENES              } from '../../../modules/local/attribution_genes/main'
include { ISM                            } from '../../../modules/local/ism/main'
include { STATS as ATTRIBUTION_STATS     } from '../../../modules/local/stats/main'
include { MOTIFS                         } from '../../../modules/local/motifs/main'
include { geneOf; byBatch; batchOfTissue; vcfOfBatch } from '../utils_seqgx/main'

workflow ATTRIBUTION {
    take:
    stats_genes        // channel: [meta, genes table] of phase 1 (STATS), every batch and tissue
    stats_drivers      // channel: [meta, drivers table] of phase 1
    genes_table        // channel (value): genes/genes.tsv (the windows)
    attribution_list   // a gene list file, or [] (attribution_genes 'significant' or 'all')
    attribution_genes  // String: params.attribution_genes
    haplotypes         // channel: [batch id, haplotype files] (PERSONALIZE)
    predictions        // channel: [batch id, prediction files] (PREDICT)
    tissues            // channel: [tissue meta, expression, covariates or []]
    ism_model          // channel (value): the weights ISM and MOTIFS run ([] for a named model)
    hparams            // channel (value): a hparams JSON file, or []
    finetuned          // channel (value): fine-tuned weights files, or []
    track_tsv          // channel (value): the track names file, or []
    plan               // channel (value): the plan (seqgx plan) as a map
    vcfs               // List: [[vcf, index], ...] of the cohort
    vcf_table          // channel (value): check/vcfs.tsv (contig -> VCF) of CHECK_INPUTS
    predictdb          // channel (value): PredictDB weights, or [] (then no VCF is staged)
    finemapped         // channel (value): fine-mapped variants, or []

    main:
    // Sorted by file name (the batch), so collected inputs, and so the tables, come in the same order in
    // every run, and -resume finds them unchanged and reuses the task.
    def by_name = { a, b -> a.name <=> b.name }
    ATTRIBUTION_GENES(stats_genes.map { _meta, f -> f }.collect(sort: by_name),
                      stats_drivers.map { _meta, f -> f }.collect(sort: by_name),
                      genes_table, attribution_list, attribution_genes)

    // Each gene's files are found by its id and sorted by name, so -resume reruns only the batches
    // whose genes changed.
    attribution_batches = ATTRIBUTION_GENES.out.batches.flatten()
    batch_of_gene = attribution_batches.flatMap { batch ->
        batch.splitCsv(header: true, sep: '\t').collect { row -> [row.gene_id, batch.baseName] }
    }
    haplotypes_of_gene = haplotypes
        .flatMap { _id, files -> [files].flatten().collect { f -> [geneOf(f), f] } }
    predictions_of_gene = predictions
        .flatMap { _id, files -> [files].flatten().collect { f -> [geneOf(f), f] } }
        .groupTuple()
    attribution_haplotypes = batch_of_gene.join(haplotypes_of_gene)
        .map { _gene, batch, file -> [batch, file] }
        .groupTuple()
        .map { batch, files -> [batch, files.sort { it.name }] }
    attribution_predictions = batch_of_gene.join(predictions_of_gene)
        .map { _gene, batch, files -> [batch, files] }
        .groupTuple()
        .map { batch, files -> [batch, files.flatten().sort { it.name }] }
    ISM(attribution_haplotypes, ism_model, hparams, finetuned, track_tsv, plan.map { it.model_args['ism'] })
    // the batch's VCF only when the PrediXcan baseline reads genotypes from it
    attribution_vcf = attribution_batches.combine(vcf_table).combine(predictdb.map { [it] })
        .map { batch, table, db ->
            def vcf_index = db ? vcfOfBatch(batch, table, vcfs) : [[], []]
            [batch.baseName, vcf_index[0], vcf_index[1]]
        }
    ATTRIBUTION_STATS(
        attribution_haplotypes.join(attribution_predictions).join(ISM.out.ism).join(attribution_vcf)
            .combine(tissues).map { row -> batchOfTissue('attribution/stats', row) },
        predictdb, finemapped)

    // Motifs around the selected genes' drivers, when the plan says so (asked for, and tss_window > 0
    // for the TSS saturation ISM the gene's scale needs).
    motif_inputs = attribution_haplotypes
        .join(ISM.out.ism.join(ISM.out.saturation_of_batch)
            .map { batch, tables, sat -> [batch, [tables, sat].flatten()] })
        // every tissue's drivers of the batch: a driver shared by tissues is analysed once
        .join(byBatch(ATTRIBUTION_STATS.out.drivers))
        .join(byBatch(ATTRIBUTION_STATS.out.genes))
        .combine(plan.filter { it.motifs }.map { true })
        .map { row -> row[0..-2] }
    MOTIFS(motif_inputs, ism_model, hparams, finetuned, track_tsv, plan.map { it.model_args['motifs'] })

    emit:
    selection     = ATTRIBUTION_GENES.out.selection                  // attribution_genes.tsv
    genes         = ATTRIBUTION_STATS.out.genes                      // [meta, table]
    drivers       = ATTRIBUTION_STATS.out.drivers                    // [meta, table]
    genedata      = ATTRIBUTION_STATS.out.genedata                   // [meta, npz]
    ism_info      = ISM.out.info                                     // per-gene cost and method
    saturation    = ISM.out.saturation                               // the report's TSS saturation maps
    gradients     = ISM.out.gradients
    motif_tables  = MOTIFS.out.driver_motifs.mix(MOTIFS.out.tables.flatten())
    motif_info    = MOTIFS.out.info
    versions      = ATTRIBUTION_GENES.out.versions.mix(ISM.out.versions.first(), ATTRIBUTION_STATS.out.versions.first(),
                                                      MOTIFS.out.versions.first())
}
